"""contrib/prometheus/alerts.yml and contrib/grafana/jobctl.json: valid, they use only
metric names the daemon exports, and they say what those metrics count."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
ALERTS = ROOT / "contrib" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "contrib" / "grafana" / "jobctl.json"
METRICS = {
    "scheduler_dispatch_total",
    "scheduler_dispatch_failed_total",
    "scheduler_spawn_failed_total",
    "scheduler_dispatch_latency_seconds_bucket",
    "scheduler_enqueued_total",
    "scheduler_processed_total",
    "scheduler_queue_depth",
    "scheduler_queue_running",
    "scheduler_queue_lag_seconds",
    "scheduler_dlq_entries",
    "scheduler_daemon_heartbeat_age_seconds",
    "scheduler_schedule_last_success_timestamp_seconds",
    "scheduler_schedule_overdue",
    "jobctl_probe_up",
}
REQUIRED_ALERTS = {
    "JobctlBacklog",
    "JobctlHighFailureRate",
    "JobctlDispatchLatencyHigh",
    "JobctlDaemonDown",
    "JobctlMissedSchedule",
    "JobctlSpawnFailures",
    "JobctlDependencyDown",
}


def _names(expr: str) -> set[str]:
    return set(re.findall(r"\b(?:scheduler|jobctl)_[a-z_]+", expr))


def _rules() -> list[dict]:
    doc = yaml.safe_load(ALERTS.read_text())
    assert isinstance(doc, dict) and set(doc) == {"groups"}
    rules = []
    for group in doc["groups"]:
        assert set(group) <= {"name", "interval", "rules"} and group["name"]
        rules += group["rules"]
    return rules


def test_alert_rules_have_the_prometheus_structure() -> None:
    rules = _rules()
    assert {r["alert"] for r in rules} >= REQUIRED_ALERTS
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"}
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", rule["alert"]), rule["alert"]
        assert isinstance(rule["expr"], str) and rule["expr"].strip()
        assert re.fullmatch(r"\d+[smhd]", rule["for"]), rule["for"]
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert {"summary", "description"} <= set(rule["annotations"])
        assert rule["expr"].count("(") == rule["expr"].count(")"), rule["alert"]
        assert _names(rule["expr"]) <= METRICS, _names(rule["expr"]) - METRICS


def test_promtool_accepts_the_rules_and_their_unit_tests() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is required in CI (Debian package prometheus)")
        pytest.skip("promtool not installed (Debian package prometheus)")
    for args in (["check", "rules", ALERTS.name], ["test", "rules", "alerts_test.yml"]):
        res = subprocess.run(
            [promtool, *args], capture_output=True, text=True, timeout=60, cwd=ALERTS.parent
        )
        assert res.returncode == 0, res.stdout + res.stderr


def test_grafana_dashboard_is_valid_json_with_known_metrics() -> None:
    dash = json.loads(DASHBOARD.read_text())
    assert dash["title"] == "jobctl" and dash["uid"] and dash["schemaVersion"] >= 30
    panels = dash["panels"]
    assert len({p["id"] for p in panels}) == len(panels), "unique panel ids"
    used: set[str] = set()
    for panel in panels:
        assert set(panel["gridPos"]) == {"x", "y", "w", "h"}
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            used |= _names(target["expr"])
    assert used <= METRICS, used - METRICS
    assert {"scheduler_queue_depth", "scheduler_queue_lag_seconds"} <= used


def _exported(tmp_path: Path) -> dict[str, str]:
    """Every metric family the daemon's registry and DB collector export, with its help."""
    from prometheus_client import CollectorRegistry

    from jobctl.client import Client
    from jobctl.runtime.http import metrics

    registry = CollectorRegistry()
    metrics.MetricsHook(registry, ["default"])
    now = datetime(2030, 1, 1, tzinfo=UTC)
    with Client(tmp_path / "jobctl.db") as client:
        db = metrics.DbCollector(client.store, lambda: client.config, lambda: now, lambda: 0.0)
        probes = metrics.ProbeCollector(lambda: None)
        families = [*registry.collect(), *db.collect(), *probes.collect()]
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"]}
    return {
        family.name + suffix: family.documentation
        for family in families
        for suffix in suffixes.get(family.type, [""])
    }


def test_every_metric_the_contrib_files_use_is_exported(tmp_path: Path) -> None:
    exported = _exported(tmp_path)
    assert set(exported) >= METRICS, METRICS - set(exported)


def test_failed_attempts_and_spawn_failures_are_not_confused(tmp_path: Path) -> None:
    # scheduler_dispatch_failed_total counts every failed attempt (SPEC keeps the name)
    exported = _exported(tmp_path)
    assert "whatever the failure class" in exported["scheduler_dispatch_failed_total"]
    assert "could not be started" in exported["scheduler_spawn_failed_total"]
    texts = [(r["alert"], r["expr"], json.dumps(r["annotations"])) for r in _rules()]
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        exprs = " ".join(t["expr"] for t in panel["targets"])
        texts.append((panel["title"], exprs, panel["title"] + panel.get("description", "")))
    for name, expr, words in texts:
        claims_spawn = re.search(r"spawn|cannot start|could not be started", words, re.I)
        if claims_spawn:
            assert "scheduler_spawn_failed_total" in expr, f"{name} says spawn failures"
        elif "scheduler_dispatch_failed_total" in expr:
            assert re.search(r"fail", words, re.I), name
