"""health and smoke against the real daemon, as an operator and a deploy gate use them."""

from __future__ import annotations

import json
import signal

import pytest

from tests.support.cli import Jobctl
from tests.support.waiting import wait_until

ON_EACH_BACKEND = True  # the `jc` tests run on SQLite and on PostgreSQL

pytestmark = pytest.mark.slow


def _report(jc: Jobctl, *args: str) -> tuple[int, dict]:
    res = jc.run("-o", "json", *args)
    data = json.loads(res.out)
    assert res.rc == {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}[data["status"]], res
    return res.rc, data


def _probe(data: dict, name: str) -> dict:
    return next(p for p in data["probes"] if p["name"] == name)


def test_health_ok_with_a_daemon_then_critical_once_it_stops(jc: Jobctl) -> None:
    proc = jc.start_daemon()
    rc, data = _report(jc, "health")
    assert rc == 0, data
    table = jc.run("health")
    assert table.rc == 0 and table.out.startswith("HEALTH OK")
    assert len(table.out.strip().splitlines()) == 2 + len(data["probes"]), "one line per probe"
    proc.send_signal(signal.SIGTERM)
    proc.wait(20)
    rc, data = _report(jc, "health")
    assert rc == 2 and _probe(data, "daemons")["status"] == "CRITICAL"


def test_health_warns_on_a_paused_backlog(jc: Jobctl) -> None:
    jc.start_daemon()
    jc.ok("queue", "pause", "default")
    jc.enqueue("--", "true")
    rc, data = _report(jc, "health", "--max-depth", "0")
    assert rc == 1, data
    depth = _probe(data, "queue_depth")
    assert (depth["status"], depth["value"]) == ("WARNING", 1)


def test_smoke_passes_through_the_daemon_and_fails_for_an_unserved_queue(jc: Jobctl) -> None:
    jc.start_daemon("--queues", "default")
    rc, data = _report(jc, "smoke", "--timeout", "30s")
    assert rc == 0, data
    canary = _probe(data, "canary:default")
    assert canary["status"] == "OK" and canary["value"] >= 0
    jobs = jc.json("list", "--state", "succeeded")
    assert [j["name"] for j in jobs] == ["smoke-canary"]
    rc, data = _report(jc, "smoke", "-Q", "default", "-Q", "reports", "--timeout", "30s")
    assert rc == 2
    assert _probe(data, "canary:reports")["status"] == "CRITICAL"
    assert _probe(data, "canary:default")["status"] == "OK"
    text = jc.run("smoke", "--timeout", "30s")
    assert text.rc == 0 and "canary:default" in text.out and text.out.startswith("SMOKE OK")


def test_smoke_without_a_daemon_is_critical_without_waiting(jc: Jobctl) -> None:
    jc.enqueue("--", "true")
    res = jc.run("smoke", "--timeout", "10m", timeout=30)  # it must not wait the 10 minutes
    assert res.rc == 2 and "no live daemon" in res.out


def test_smoke_checks_a_per_second_schedule_is_punctual(jc: Jobctl) -> None:
    jc.start_daemon()
    jc.ok("schedule", "add", "tick", "--cron", "@every 1s", "--tz", "UTC", "--", "true")
    wait_until(lambda: _fired(jc), 30, 0.2, "fires")
    rc, data = _report(jc, "smoke", "--timeout", "30s", "--tolerance", "30s")
    assert rc == 0, data
    assert _probe(data, "schedule_accuracy")["status"] == "OK"


def _fired(jc: Jobctl) -> bool:
    return any(j["schedule"] == "tick" for j in jc.json("list", "--state", "succeeded"))
