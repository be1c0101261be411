"""Dependency probes against real things: the machine's PostgreSQL, Redis and MariaDB,
local HTTP/TLS servers, commands that exit with Nagios codes, hung dependencies; run in
parallel within their timeouts, passwords never shown."""

from __future__ import annotations

import time
from pathlib import Path

import psutil
import pytest

from jobctl.clock import utcnow
from jobctl.config.health import HealthConfig
from jobctl.config.model import Config
from jobctl.config.probes import ProbeSpec, Target
from jobctl.ops.probes import health_report, run_probes
from jobctl.ops.report import Level
from tests.support import probe_servers as srv
from tests.support.waiting import wait_until


def _one(spec: ProbeSpec) -> tuple[Level, str, bool]:
    (result,) = run_probes([spec], HealthConfig())
    return result.probe.status, result.probe.message, result.up


def test_the_machines_postgres_redis_and_mariadb_are_ok() -> None:
    specs = [
        ProbeSpec("pg", "postgres", Target(text=srv.require(srv.POSTGRES))),
        ProbeSpec("redis", "redis", Target(text=srv.require(srv.REDIS))),
        ProbeSpec("maria", "mysql", Target(text=srv.require(srv.MYSQL))),
    ]
    results = run_probes(specs, HealthConfig())
    assert [(r.probe.name, r.probe.status, r.up) for r in results] == [
        ("pg", Level.OK, True),
        ("redis", Level.OK, True),
        ("maria", Level.OK, True),
    ], [r.probe.message for r in results]
    assert "`select 1` ok" in results[0].probe.message and "PING ok" in results[1].probe.message


def test_redis_at_a_wrong_port_is_critical_and_a_hung_one_fails_within_its_timeout() -> None:
    port = srv.free_port()
    status, message, up = _one(ProbeSpec("r", "redis", Target(text=f"redis://127.0.0.1:{port}")))
    assert (status, up) == (Level.CRITICAL, False) and f"127.0.0.1:{port}" in message
    with srv.black_hole() as hung:
        spec = ProbeSpec("r", "redis", Target(text=f"redis://127.0.0.1:{hung}"), timeout=0.5)
        (result,) = run_probes([spec], HealthConfig())
    assert result.probe.status is Level.CRITICAL, result.probe.message
    assert result.seconds < 0.5 + 1


def test_a_failing_probe_at_level_warning_is_a_warning_and_still_down() -> None:
    port = srv.free_port()
    spec = ProbeSpec("t", "tcp", Target(text=f"127.0.0.1:{port}"), level="warning")
    status, message, up = _one(spec)
    assert (status, up) == (Level.WARNING, False) and "refused" in message.lower()


def test_http_status_body_and_redirects() -> None:
    with srv.http_server(500, b"boom") as down:
        status, message, _ = _one(ProbeSpec("h", "http", Target(text=down.url + "/health")))
    assert status is Level.CRITICAL and "HTTP 500, expected 2xx" in message
    with srv.http_server(200, b"all good") as up:
        ok = ProbeSpec("h", "http", Target(text=up.url), contains="good")
        lacking = ProbeSpec("h", "http", Target(text=up.url), contains="ready")
        assert _one(ok)[0] is Level.OK
        assert "body lacks 'ready'" in _one(lacking)[1]
        with srv.http_server(302, location=up.url + "/moved") as moving:
            spec = ProbeSpec("h", "http", Target(text=moving.url))
            status, message, _ = _one(spec)
            assert status is Level.CRITICAL and "HTTP 302" in message
            assert _one(ProbeSpec("h", "http", Target(text=moving.url), status=(302,)))[0] is (
                Level.OK
            )
            followed = ProbeSpec("h", "http", Target(text=moving.url), follow_redirects=True)
            assert _one(followed)[0] is Level.OK
        assert up.hits[-1] == "/moved"


def test_a_command_probe_counts_its_nagios_exit_code(tmp_path: Path) -> None:
    script = tmp_path / "check_thing"
    script.write_text("#!/bin/sh\necho 'THING WARNING - 3 queued|queued=3'\nexit \"$1\"\n")
    script.chmod(0o755)
    found = [_one(ProbeSpec("c", "command", argv=(str(script), str(code)))) for code in range(4)]
    assert [f[0] for f in found] == [Level.OK, Level.WARNING, Level.CRITICAL, Level.UNKNOWN]
    assert found[1][1] == "exit 1: THING WARNING - 3 queued"
    assert [f[2] for f in found] == [True, True, False, False]
    missing = _one(ProbeSpec("c", "command", argv=(str(tmp_path / "nope"),)))
    assert missing[0] is Level.CRITICAL and "cannot run" in missing[1]


def test_a_command_past_its_timeout_is_killed_with_its_children(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    script = f"sleep 30 & echo $! > {pidfile}; wait"
    status, message, _ = _one(ProbeSpec("c", "command", argv=("sh", "-c", script), timeout=0.5))
    assert status is Level.CRITICAL and "timed out after 0.5s" in message
    child = int(pidfile.read_text())
    wait_until(lambda: not psutil.pid_exists(child), 5, what=f"child {child} killed")


def test_a_five_day_certificate_warns_at_14_days_and_is_critical_at_crit_7(
    tmp_path: Path,
) -> None:
    cert, key = srv.make_cert(tmp_path, 5)
    with srv.tls_server(cert, key) as address:
        warn = _one(ProbeSpec("c", "tls", Target(text=address), warn_days=14))
        crit = _one(ProbeSpec("c", "tls", Target(text=address), warn_days=14, crit_days=7))
        verified = _one(ProbeSpec("c", "tls", Target(text=address), verify=True))
    assert warn[0] is Level.WARNING and "expires in 5 days" in warn[1] and warn[2]
    assert crit[0] is Level.CRITICAL
    assert verified[0] is Level.CRITICAL and "certificate verify failed" in verified[1]


def test_a_disk_probe_rates_another_path(tmp_path: Path) -> None:
    from jobctl.config.health import parse_free_disk

    ok = _one(ProbeSpec("d", "disk", Target(text=str(tmp_path)), min_free=parse_free_disk("1")))
    full = ProbeSpec("d", "disk", Target(text=str(tmp_path)), min_free=parse_free_disk("100%"))
    assert ok[0] is Level.OK and str(tmp_path) in ok[1]
    assert _one(full)[0] is Level.CRITICAL


def test_passwords_never_appear_in_messages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    srv.require(srv.POSTGRES)
    secret = tmp_path / "pg.url"
    secret.write_text("postgresql://postgres:Sup3r-S3cret@127.0.0.1:5432/no_such_db_here\n")
    monkeypatch.setenv("CACHE_URL", f"redis://:Sup3r-S3cret@127.0.0.1:{srv.free_port()}/0")
    specs = [
        ProbeSpec("pg", "postgres", Target(file=str(secret))),
        ProbeSpec("cache", "redis", Target(env="CACHE_URL")),
        ProbeSpec("lost", "redis", Target(file=str(tmp_path / "missing"))),
    ]
    results = run_probes(specs, HealthConfig())
    assert [r.probe.status for r in results] == [Level.CRITICAL, Level.CRITICAL, Level.UNKNOWN]
    assert "no_such_db_here" in results[0].probe.message
    assert all("Sup3r" not in r.probe.message for r in results), results


def test_ten_probes_take_about_the_slowest_never_the_sum(tmp_path: Path) -> None:
    # Given ten probes, three of them hung (a redis, an HTTP server and a command that
    # never answer) with a 1 s timeout each
    with srv.black_hole() as hung, srv.http_server(200) as web:
        specs = [
            ProbeSpec("hung-redis", "redis", Target(text=f"redis://127.0.0.1:{hung}"), timeout=1),
            ProbeSpec("hung-http", "http", Target(text=f"http://127.0.0.1:{hung}/"), timeout=1),
            ProbeSpec("hung-cmd", "command", argv=("sleep", "30"), timeout=1),
            *[ProbeSpec(f"web{i}", "http", Target(text=web.url)) for i in range(4)],
            *[ProbeSpec(f"true{i}", "command", argv=("true",)) for i in range(3)],
        ]
        config = Config(health=HealthConfig(probes=tuple(specs)))
        # When `health` runs them (only dependency probes picked: no DB needed)
        started = time.monotonic()
        report = health_report(
            str(tmp_path / "none.db"), config, utcnow(), picked=[s.name for s in specs]
        )
        elapsed = time.monotonic() - started
    # Then the hung ones are CRITICAL and the whole report came within timeout + 1 s
    assert [p.status for p in report.probes[:3]] == [Level.CRITICAL] * 3
    assert all(p.status is Level.OK for p in report.probes[3:])
    assert elapsed < 1 + 1, elapsed
    assert not (tmp_path / "none.db").exists()
