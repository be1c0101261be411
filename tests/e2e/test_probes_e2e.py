"""Dependency probes end to end: `jobctl health` (a real subprocess) against the machine's
PostgreSQL and Redis and local servers; the daemon's /healthz under a fast poller and
/metrics."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import httpx
import pytest

from tests.support import probe_servers as srv
from tests.support.cli import Jobctl
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

SECRET = "Pa55-w0rd-never-shown"


def test_health_reports_each_dependency_and_never_a_password(jc: Jobctl, tmp_path: Path) -> None:
    # Given probes of the machine's PostgreSQL (URL in a file) and Redis, a Redis at a
    # wrong port (URL with a password in the environment), an HTTP server answering 500,
    # a plugin exiting 1 and a TLS server with a 5-day certificate
    pg, redis = srv.require(srv.POSTGRES), srv.require(srv.REDIS)
    pg_file = tmp_path / "pg.url"
    pg_file.write_text(pg.replace("postgres@", f"postgres:{SECRET}@") + "\n")
    jc.env["BROKEN_REDIS"] = f"redis://:{SECRET}@127.0.0.1:{srv.free_port()}/0"
    plugin = tmp_path / "check_queue"
    plugin.write_text("#!/bin/sh\necho 'QUEUE WARNING - 12 waiting|waiting=12'\nexit 1\n")
    plugin.chmod(0o755)
    cert, key = srv.make_cert(tmp_path, 5)
    with srv.http_server(500, b"down") as web, srv.tls_server(cert, key) as tls:
        (tmp_path / "config.yaml").write_text(
            f"""\
health:
  probes:
    - {{name: pg, postgres: {{url_file: {pg_file}}}}}
    - {{name: cache, redis: "{redis}"}}
    - {{name: cache-b, redis: {{url_env: BROKEN_REDIS}}, timeout: 1s}}
    - {{name: api, http: {{url: "{web.url}/health"}}}}
    - {{name: queue, command: [{plugin}]}}
    - {{name: cert, tls: {{address: "{tls}", warn_days: 14}}}}
"""
        )
        jc.env["JOBCTL_CONFIG"] = str(tmp_path / "config.yaml")
        # When `health` runs, as JSON and as a table
        as_json = jc.run("-o", "json", "health")
        table = jc.run("health")
        picked = jc.run("-o", "json", "health", "--probe", "cache", "--probe", "cert")
    # Then each dependency has its own line and status
    report = json.loads(as_json.out)
    status = {p["name"]: p["status"] for p in report["probes"]}
    assert {k: status[k] for k in ("pg", "cache", "cache-b", "api", "queue", "cert")} == {
        "pg": "OK",
        "cache": "OK",
        "cache-b": "CRITICAL",
        "api": "CRITICAL",
        "queue": "WARNING",
        "cert": "WARNING",
    }, report
    assert as_json.rc == 2 and report["status"] == "CRITICAL"
    assert re.search(r"CRITICAL\s+api\s+\S+\s+GET http://127.0.0.1:\d+/health: HTTP 500", table.out)
    # and --probe picks, without the DB (none was created)
    shown = json.loads(picked.out)
    assert [p["name"] for p in shown["probes"]] == ["cache", "cert"] and picked.rc == 1
    # and the password is nowhere
    for res in (as_json, table, picked):
        assert SECRET not in res.out + res.err
    assert not jc.db.exists()


def test_healthz_under_a_fast_poller_runs_each_probe_once_per_period(
    jc: Jobctl, tmp_path: Path
) -> None:
    # Given a daemon whose probes are cached for 1 s: one counts its runs, one is down
    count = tmp_path / "runs"
    (tmp_path / "config.yaml").write_text(
        f"""\
health:
  cache: 1s
  probes:
    - {{name: counted, command: [sh, -c, "echo run >> {count}"]}}
    - {{name: nothing-here, tcp: "127.0.0.1:{srv.free_port()}", level: warning}}
"""
    )
    jc.env["JOBCTL_CONFIG"] = str(tmp_path / "config.yaml")
    jc.start_daemon("--http", "127.0.0.1:0")
    found = wait_until(
        lambda: re.search(r"event=http\.listening addr=(\S+)", jc.daemon_log(0)), 10, 0.05
    )
    url = f"http://{found.group(1)}"
    # When a poller asks /healthz 50 times a second for 3 s
    polls, started = 0, time.monotonic()
    with httpx.Client(timeout=10) as http:
        while time.monotonic() - started < 3:
            answer = http.get(f"{url}/healthz")
            polls += 1
            time.sleep(0.02)
        elapsed = time.monotonic() - started
        body = answer.json()
        scrape = http.get(f"{url}/metrics").text
    # Then the probe ran at most once per second (and the first round at start-up)
    runs = len(count.read_text().splitlines())
    assert 1 <= runs <= int(elapsed / 1.0) + 2, (runs, polls, elapsed)
    assert polls > 3 * runs
    # and /healthz and /metrics carry the probes
    probes = {p["name"]: p for p in body["probes"]}
    assert probes["counted"]["status"] == "OK" and probes["nothing-here"]["status"] == "WARNING"
    assert 'jobctl_probe_up{probe="counted"} 1.0' in scrape
    assert 'jobctl_probe_up{probe="nothing-here"} 0.0' in scrape
    assert re.search(r'jobctl_probe_seconds\{probe="counted"\} [0-9.e-]+', scrape)
