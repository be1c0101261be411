"""`health` probes on a real SQLite DB with an injected `now`: OK, WARNING, CRITICAL."""

from __future__ import annotations

import os
import random
import stat
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from jobctl.config.health import FreeDisk, HealthConfig, parse_free_disk, parse_health
from jobctl.config.model import Config, QueueConfig
from jobctl.config.schedules import build_schedule
from jobctl.config.switches import ShadowMode
from jobctl.domain.failure import Decision, Ending, decide
from jobctl.domain.job import State
from jobctl.domain.retry import RetryPolicy
from jobctl.errors import InvalidInput
from jobctl.ops.health import check, check_url
from jobctl.ops.report import Level, Report
from jobctl.store import Store, open_store
from jobctl.store.repos.daemons import DaemonInfo
from jobctl.store.repos.dispatch import Finish
from tests.support.clock import ManualClock
from tests.support.factories import claim, job_spec

RUNNER = "node-a:1:x"


def _probe(report: Report, name: str):
    return next(p for p in report.probes if p.name == name)


def _daemon(store: Store, clock: ManualClock, beat_ago: float = 0.0, interval: float = 1.0) -> None:
    beat = clock.now() - timedelta(seconds=beat_ago)
    store.daemons.register(
        DaemonInfo(RUNNER, "node-a", "host", os.getpid(), "t", None, beat, beat, interval)
    )


def _run(store: Store, clock: ManualClock, job_id: int, exit_code: int = 0) -> None:
    (job,) = store.dispatch.claim(claim(runner=RUNNER), clock.now())
    assert job.id == job_id
    policy = RetryPolicy(max_attempts=1)
    decision = (
        Decision(State.SUCCEEDED, None)
        if exit_code == 0
        else decide(Ending(exit_code=exit_code), 1, policy, clock.now(), random.Random(1))
    )
    store.dispatch.finish(
        [Finish(job_id, job.attempts, RUNNER, decision, exit_code=exit_code)], clock.now()
    )


def test_a_healthy_db_with_a_live_daemon_is_ok(store: Store, clock: ManualClock) -> None:
    _daemon(store, clock)
    report = check(store, Config(), clock.now())
    assert report.status is Level.OK, report.shape()
    assert {p.name for p in report.probes} == {
        "db",
        "daemons",
        "nodes",
        "queue_lag",
        "queue_depth",
        "dlq_growth",
        "missed_schedules",
        "crontab_overlap",
        *(("disk",) if store.kind == "sqlite" else ("server", "clocks")),
    }
    assert report.exit_code == 0
    assert store.queues.known() <= {"default"}, "the write probe leaves nothing behind"


def test_no_live_daemon_is_critical(store: Store, clock: ManualClock) -> None:
    report = check(store, Config(), clock.now())
    assert _probe(report, "daemons").status is Level.CRITICAL
    assert report.status is Level.CRITICAL and report.exit_code == 2


def test_a_late_heartbeat_warns(store: Store, clock: ManualClock) -> None:
    _daemon(store, clock, beat_ago=2.5, interval=1.0)  # live (< 3 intervals), late (> 2)
    assert _probe(check(store, Config(), clock.now()), "daemons").status is Level.WARNING
    strict = HealthConfig(max_heartbeat_age=5.0)
    assert _probe(check(store, Config(), clock.now(), strict), "daemons").status is Level.OK


def test_queue_lag_thresholds_are_strictly_over(store: Store, clock: ManualClock) -> None:
    _daemon(store, clock)
    store.jobs.enqueue([job_spec(queue="mail")], clock.now() - timedelta(seconds=120))
    t = HealthConfig(warn_lag=60, max_lag=300)
    lag = _probe(check(store, Config(), clock.now(), t), "queue_lag")
    assert (lag.status, lag.value) == (Level.WARNING, 120.0)
    assert "mail" in lag.message
    assert (
        _probe(check(store, Config(), clock.now(), replace(t, max_lag=100)), "queue_lag").status
        is Level.CRITICAL
    )
    exact = replace(t, warn_lag=120, max_lag=None)
    assert _probe(check(store, Config(), clock.now(), exact), "queue_lag").status is Level.OK


def test_a_paused_queue_lagging_is_a_warning_only(store: Store, clock: ManualClock) -> None:
    _daemon(store, clock)
    store.jobs.enqueue([job_spec(queue="mail")], clock.now() - timedelta(seconds=600))
    store.queues.set_paused("mail", True, clock.now())
    assert _probe(check(store, Config(), clock.now()), "queue_lag").status is Level.WARNING


def test_queue_depth_against_flags_and_the_queue_max_depth(
    store: Store, clock: ManualClock
) -> None:
    _daemon(store, clock)
    store.jobs.enqueue([job_spec() for _ in range(3)], clock.now())
    depth = _probe(check(store, Config(), clock.now(), HealthConfig(warn_depth=2)), "queue_depth")
    assert (depth.status, depth.value) == (Level.WARNING, 3)
    t = HealthConfig(warn_depth=1, max_depth=2)
    assert _probe(check(store, Config(), clock.now(), t), "queue_depth").status is Level.CRITICAL
    assert (
        _probe(check(store, Config(), clock.now(), HealthConfig(max_depth=3)), "queue_depth").status
        is Level.OK
    )
    config = Config(queues=(QueueConfig("default", max_depth=2),))
    assert _probe(check(store, config, clock.now()), "queue_depth").status is Level.WARNING


def test_dlq_growth_in_the_last_hour(store: Store, clock: ManualClock) -> None:
    _daemon(store, clock)
    job_id = store.jobs.enqueue([job_spec(retry=RetryPolicy(max_attempts=1))], clock.now())[0].id
    _run(store, clock, job_id, exit_code=3)
    assert store.jobs.get(job_id).state is State.DEAD
    dlq = _probe(check(store, Config(), clock.now()), "dlq_growth")
    assert (dlq.status, dlq.value) == (Level.WARNING, 1)
    assert (
        _probe(
            check(store, Config(), clock.now(), HealthConfig(max_dlq_growth=0)), "dlq_growth"
        ).status
        is Level.CRITICAL
    )
    later = clock.now() + timedelta(hours=1, seconds=1)
    _daemon(store, ManualClock(later))
    assert _probe(check(store, Config(), later), "dlq_growth").status is Level.OK


def _hourly(store: Store, clock: ManualClock, **fields: object) -> None:
    s = build_schedule("hourly", {"cron": "0 * * * *", "tz": "UTC", "command": ["true"], **fields})
    store.schedules.add(s, clock.now())


def test_a_schedule_without_a_recent_success_is_missed(store: Store, clock: ManualClock) -> None:
    _daemon(store, clock)
    _hourly(store, clock)
    assert _probe(check(store, Config(), clock.now()), "missed_schedules").status is Level.OK
    job_id = store.jobs.enqueue([job_spec(schedule="hourly")], clock.now())[0].id
    _run(store, clock, job_id)
    later = clock.now() + timedelta(hours=1, minutes=4)  # interval 1h + grace 5m not over
    _daemon(store, ManualClock(later))
    assert _probe(check(store, Config(), later), "missed_schedules").status is Level.OK
    later += timedelta(minutes=2)
    _daemon(store, ManualClock(later))
    missed = _probe(check(store, Config(), later), "missed_schedules")
    assert (missed.status, missed.value) == (Level.WARNING, 1)
    assert "hourly" in missed.message


def test_paused_and_shadow_schedules_are_not_missed(store: Store, clock: ManualClock) -> None:
    _daemon(store, clock)
    _hourly(store, clock, shadow=True)
    later = clock.now() + timedelta(hours=3)
    _daemon(store, ManualClock(later))
    assert _probe(check(store, Config(), later), "missed_schedules").status is Level.OK


def test_under_shadow_mode_a_schedule_that_does_not_set_shadow_is_not_missed(
    store: Store, clock: ManualClock
) -> None:
    _daemon(store, clock)
    _hourly(store, clock)
    later = clock.now() + timedelta(hours=3)
    _daemon(store, ManualClock(later))
    shadowing = Config(shadow_mode=ShadowMode(enabled=True))
    assert _probe(check(store, shadowing, later), "missed_schedules").status is Level.OK
    assert _probe(check(store, Config(), later), "missed_schedules").status is Level.WARNING


def test_disabled_by_config_is_a_warning(store: Store, clock: ManualClock) -> None:
    _daemon(store, clock)
    assert "enabled" not in {p.name for p in check(store, Config(), clock.now()).probes}
    report = check(store, Config(source="/etc/jobctl/config.yaml", enabled=False), clock.now())
    probe = _probe(report, "enabled")
    assert (probe.status, report.status) == (Level.WARNING, Level.WARNING)
    assert probe.message.startswith("disabled by config (enabled: false in /etc/jobctl/")


def test_an_active_imported_schedule_still_in_its_crontab_warns(
    store: Store, clock: ManualClock, tmp_path: Path
) -> None:
    _daemon(store, clock)
    crontab = tmp_path / "crontab"
    crontab.write_text("*/5 * * * * /usr/bin/backup\n")
    s = build_schedule(
        "cron-backup",
        {
            "cron": "*/5 * * * *",
            "tz": "UTC",
            "command": ["/usr/bin/backup"],
            "source": f"{crontab}:1",
        },
        origin="import",
    )
    store.schedules.add(s, clock.now())
    overlap = _probe(check(store, Config(), clock.now()), "crontab_overlap")
    assert (overlap.status, overlap.value) == (Level.WARNING, 1)
    crontab.write_text("# */5 * * * * /usr/bin/backup\n")
    assert _probe(check(store, Config(), clock.now()), "crontab_overlap").status is Level.OK


def test_on_a_server_health_reports_its_figures_and_each_nodes_clock(
    pg_url: str, clock: ManualClock
) -> None:
    store = open_store(pg_url)
    try:
        _daemon(store, clock)
        report = check(store, Config(), clock.now())
        server, clocks = _probe(report, "server"), _probe(report, "clocks")
        assert server.status is Level.OK and "oldest open transaction" in server.message
        assert clocks.status is Level.OK and "node-a +0.000s" in clocks.message
        # a node whose clock is 2.5 s behind the database's: WARNING, naming it
        store.daemons.heartbeat(RUNNER, clock.now(), 2.5)
        clocks = _probe(check(store, Config(), clock.now()), "clocks")
        assert clocks.status is Level.WARNING and "node-a +2.500s" in clocks.message
    finally:
        store.close()


def test_free_disk_floor(store: Store, clock: ManualClock) -> None:
    if store.local_path is None:
        pytest.skip("a server's disk is not this host's: PostgreSQL has the server probe")
    _daemon(store, clock)
    assert (
        _probe(
            check(
                store, Config(), clock.now(), HealthConfig(min_free_disk=FreeDisk("0%", percent=0))
            ),
            "disk",
        ).status
        is Level.OK
    )
    huge = HealthConfig(min_free_disk=parse_free_disk("100%"))
    disk = _probe(check(store, Config(), clock.now(), huge), "disk")
    assert disk.status is Level.CRITICAL and disk.value > 0
    free = disk.value
    near = HealthConfig(min_free_disk=FreeDisk("x", size=int(free * 0.6)))
    assert _probe(check(store, Config(), clock.now(), near), "disk").status is Level.WARNING


def test_a_read_only_db_is_critical(store: Store, clock: ManualClock, db_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes to read-only files")
    _daemon(store, clock)
    store.close()
    for p in db_path.parent.glob("jobctl.db*"):
        p.chmod(stat.S_IRUSR)
    db_path.parent.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        report = check_url(str(db_path), Config(), clock.now())
    finally:
        db_path.parent.chmod(stat.S_IRWXU)
        for p in db_path.parent.glob("jobctl.db*"):
            p.chmod(stat.S_IRUSR | stat.S_IWUSR)
    assert report.status is Level.CRITICAL
    assert _probe(report, "db").status is Level.CRITICAL


def test_a_missing_db_is_critical_and_not_created(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "none" / "jobctl.db"
    report = check_url(str(path), Config(), clock.now())
    assert report.status is Level.CRITICAL and not path.exists()


def test_health_config_section_is_validated() -> None:
    config, problems = parse_health({"warn_lag": "2m", "max_depth": 10, "min_free_disk": "1GiB"})
    assert problems == []
    assert (config.warn_lag, config.max_depth, config.min_free_disk.size) == (120.0, 10, 1024**3)
    _, problems = parse_health({"max_lag": "soon", "nope": 1, "warn_depth": -1})
    assert len(problems) == 3 and any("nope" in m for _, m in problems)
    with pytest.raises(InvalidInput, match="lots"):
        parse_free_disk("lots")
