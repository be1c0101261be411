"""The daemon's structured log (logfmt and JSON): every line about a job carries job_id,
queue, attempt and request_id; and the --http option / `daemon: {http: …}` config."""

from __future__ import annotations

import json
import re
import shlex
import signal
import socket
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.cli import Jobctl
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

JOB_KEYS = ("job_id", "queue", "attempt", "request_id")


def parse_logfmt(line: str) -> dict[str, Any]:
    return {k: v for k, v in (part.split("=", 1) for part in shlex.split(line) if "=" in part)}


def _listen(jc: Jobctl, index: int = 0) -> str:
    found = wait_until(
        lambda: re.search(r"http\.listening\W+addr\W+([\w.:\[\]]+)", jc.daemon_log(index)),
        10,
        0.05,
        "http.listening",
    )
    return f"http://{found.group(1)}"


@pytest.mark.parametrize("fmt", ["logfmt", "json"])
def test_every_job_line_carries_job_id_queue_attempt_and_request_id(
    jc: Jobctl, tmp_path: Path, fmt: str
) -> None:
    (tmp_path / "config.yaml").write_text("job_types:\n  - name: echo\n    command: [cat]\n")
    jc.env["JOBCTL_CONFIG"] = str(tmp_path / "config.yaml")
    token = jc.json("token", "create", "svc", "--scope", "enqueue")["token"]
    jc.start_daemon("--http", ":0", "--log-format", fmt)
    url = _listen(jc)
    posted = httpx.post(
        f"{url}/internal/jobs",
        json={"job_type": "echo", "payload": {}},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert posted.status_code == 201, posted.text
    ok = jc.enqueue("--", "true")
    retried = jc.enqueue(
        "--max-attempts", "2", "--backoff", "fixed", "--backoff-base", "0", "--", "false"
    )
    sleeper = jc.enqueue("--", "sleep", "30")
    jc.wait_state(sleeper, "running")
    jc.ok("cancel", str(sleeper))
    jc.wait_state(sleeper, "cancelled")
    for job_id, state in ((posted.json()["id"], "succeeded"), (ok, "succeeded"), (retried, "dead")):
        jc.wait_state(job_id, state)
    jc.stop_daemons()
    lines = [ln for ln in jc.daemon_log(0).splitlines() if ln.strip()]
    records = [json.loads(ln) if fmt == "json" else parse_logfmt(ln) for ln in lines]
    about_jobs = [r for r in records if "job_id" in r]
    events = {r["event"] for r in about_jobs}
    assert {"job.started", "job.succeeded", "job.retrying", "job.dead", "job.cancelling"} <= events
    assert "http.request" in events
    for record in about_jobs:
        missing = [k for k in JOB_KEYS if record.get(k) in (None, "")]
        assert not missing, f"{record} lacks {missing}"
    (node,) = [n["name"] for n in jc.json("node", "list")]
    assert {r.get("node") for r in records} == {node}, "every line names the daemon's node"
    by_job = {r["request_id"] for r in about_jobs if str(r["job_id"]) == str(posted.json()["id"])}
    assert by_job == {posted.headers["X-Request-Id"]}, "the API call's request id follows the job"


def test_http_is_off_by_default_and_on_from_the_config(jc: Jobctl, tmp_path: Path) -> None:
    jc.start_daemon()
    assert "http.listening" not in jc.daemon_log(0)
    jc.stop_daemons()
    (tmp_path / "config.yaml").write_text('daemon: {http: "127.0.0.1:0"}\n')
    jc.env["JOBCTL_CONFIG"] = str(tmp_path / "config.yaml")
    jc.start_daemon()
    url = _listen(jc, 1)
    assert url.startswith("http://127.0.0.1:")
    assert httpx.get(f"{url}/healthz", timeout=10).status_code in (200, 503)


@pytest.mark.parametrize("value", ["nonsense", "host:99999", "1.2.3.4:"])
def test_a_bad_listen_address_is_invalid_input(jc: Jobctl, value: str) -> None:
    res = jc.run("daemon", "--http", value, timeout=30)
    assert res.rc == 2 and "--http" in res.err and len(res.err.strip().splitlines()) == 1, res


def test_a_taken_port_fails_the_start_with_75(jc: Jobctl) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [*jc.argv0, "daemon", "--http", f"127.0.0.1:{port}", "--burst"],
            env=jc.env,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert proc.returncode == 75, proc
    assert f"127.0.0.1:{port}" in proc.stderr and "Traceback" not in proc.stderr


def test_healthz_is_503_when_health_is_critical(jc: Jobctl, tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(
        "queues:\n  - name: default\n  - name: other\nhealth: {max_depth: 1}\n"
    )
    jc.env["JOBCTL_CONFIG"] = str(tmp_path / "config.yaml")
    for _ in range(3):
        jc.enqueue("--", "true")
    jc.start_daemon("--http", "0", "--queues", "other")  # nobody runs `default`
    r = httpx.get(f"{_listen(jc)}/healthz", timeout=10)
    assert r.status_code == 503, r.text
    report = r.json()
    assert report["status"] == "CRITICAL"
    assert any(p["name"] == "queue_depth" and p["status"] == "CRITICAL" for p in report["probes"])


def test_metrics_textfile_without_a_daemon(jc: Jobctl, tmp_path: Path) -> None:
    jc.enqueue("-Q", "bulk", "--", "true")
    out = tmp_path / "textfile" / "jobctl.prom"
    out.parent.mkdir()
    jc.ok("metrics", "--textfile", str(out))
    text = out.read_text()
    assert 'scheduler_queue_depth{queue="bulk"} 1.0' in text
    assert "# TYPE scheduler_dlq_entries gauge" in text
    assert [p.name for p in out.parent.iterdir()] == ["jobctl.prom"], "renamed into place"
    assert 'scheduler_queue_depth{queue="bulk"} 1.0' in jc.ok("metrics")
    res = jc.run("metrics", "--textfile", str(tmp_path / "missing" / "x.prom"))
    assert res.rc == 2 and "--textfile" in res.err


def test_token_commands_are_audited_and_never_show_the_secret_again(jc: Jobctl) -> None:
    created = jc.json("token", "create", "ci", "--scope", "read,enqueue")
    assert created["scopes"] == ["enqueue", "read"] and created["created_at"].endswith("Z")
    table = jc.ok("token", "list")
    assert "ci" in table and created["token"] not in table
    assert created["token"] not in jc.ok("-o", "json", "token", "list")
    assert jc.run("token", "create", "ci", "--scope", "read").rc == 2, "name taken"
    assert jc.run("token", "create", "x", "--scope", "root").rc == 2, "unknown scope"
    jc.ok("token", "revoke", "ci")
    assert jc.run("token", "revoke", "ci").rc == 3
    actions = [(e["action"], e["target"], e["outcome"]) for e in jc.json("audit")]
    assert ("token.create", "ci", "ok") in actions and ("token.revoke", "ci", "ok") in actions
    assert all(created["token"] not in json.dumps(e) for e in jc.json("audit"))


def test_sighup_reload_brings_new_job_types_to_the_api(jc: Jobctl, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("job_types:\n  - name: old\n    command: [cat]\n")
    jc.env["JOBCTL_CONFIG"] = str(config)
    token = jc.json("token", "create", "svc", "--scope", "enqueue")["token"]
    proc = jc.start_daemon("--http", "0")
    url, headers = f"{_listen(jc)}/internal/jobs", {"Authorization": f"Bearer {token}"}
    body = {"job_type": "new", "payload": {}}
    assert httpx.post(url, json=body, headers=headers, timeout=10).status_code == 422
    config.write_text(
        "job_types:\n  - name: old\n    command: [cat]\n  - name: new\n    command: [cat]\n"
    )
    proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "config.reloaded" in jc.daemon_log(0), 10, 0.05, "config.reloaded")
    assert httpx.post(url, json=body, headers=headers, timeout=10).status_code == 201
