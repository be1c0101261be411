"""`smoke` on a real SQLite DB: canaries through the real daemon code, schedule punctuality."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from jobctl.config.model import Config
from jobctl.config.schedules import build_schedule
from jobctl.domain.job import State
from jobctl.domain.schedule import FireDecision, Outcome
from jobctl.ops.report import Level, Report
from jobctl.ops.smoke import CANARY_NAME, punctuality, smoke
from jobctl.runtime.daemon import Daemon
from jobctl.store import Store
from jobctl.store.repos.daemons import DaemonInfo
from tests.runtime.test_daemon import make_daemon
from tests.support.clock import ManualClock


class DaemonClock(ManualClock):
    """A manual clock whose sleep lets the in-process daemon work meanwhile."""

    daemon: Daemon | None = None

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        if self.daemon is not None:
            self.daemon.run_until_idle()


@pytest.fixture
def dclock() -> DaemonClock:
    return DaemonClock()


@pytest.fixture
def daemon(store: Store, dclock: DaemonClock, tmp_path: Path) -> Iterator[Daemon]:
    d = make_daemon(store, dclock, tmp_path, lease=30.0)  # type: ignore[arg-type]
    d.start()
    dclock.daemon = d
    yield d
    dclock.daemon = None
    d.drain()
    d.close()


def _probe(report: Report, name: str):
    return next(p for p in report.probes if p.name == name)


def _canaries(store: Store, clock: ManualClock) -> list:
    return [j for j in store.jobs.list(clock.now(), limit=100) if j.name == CANARY_NAME]


def test_canary_round_trip_through_the_daemon_is_ok(
    store: Store, daemon: Daemon, dclock: DaemonClock
) -> None:
    report = smoke(store, Config(), dclock, timeout=10)
    assert report.status is Level.OK, report.shape()
    canary = _probe(report, "canary:default")
    assert isinstance(canary.value, float) and canary.value >= 0
    (job,) = _canaries(store, dclock)
    assert job.state is State.SUCCEEDED and job.max_attempts == 1


def test_no_live_daemon_is_critical_at_once(store: Store, clock: ManualClock) -> None:
    started = clock.monotonic()
    report = smoke(store, Config(), clock, timeout=60)
    assert report.status is Level.CRITICAL and report.exit_code == 2
    assert _probe(report, "daemons").status is Level.CRITICAL
    assert clock.monotonic() == started, "no waiting without a daemon"
    assert _canaries(store, clock) == []


def _registered_only(store: Store, clock: ManualClock, queues: list[str] | None = None) -> None:
    now = clock.now()
    store.daemons.register(
        DaemonInfo("n:1:x", "n", "h", os.getpid(), "t", queues, now, now, 1000.0)
    )


def test_a_canary_nobody_runs_times_out_critical_and_is_cancelled(
    store: Store, clock: ManualClock
) -> None:
    _registered_only(store, clock)  # registered, heartbeating, but never claims
    report = smoke(store, Config(), clock, timeout=5)
    canary = _probe(report, "canary:default")
    assert canary.status is Level.CRITICAL and "cancelled" in canary.message
    assert clock.monotonic() >= 1005
    (job,) = _canaries(store, clock)
    assert job.state is State.CANCELLED


def test_a_queue_no_daemon_serves_or_paused_is_critical(store: Store, clock: ManualClock) -> None:
    _registered_only(store, clock, queues=["mail"])
    store.queues.set_paused("mail", True, clock.now())
    report = smoke(store, Config(), clock, queues=["default", "mail"], timeout=1)
    assert "serves default" in _probe(report, "canary:default").message
    assert "paused" in _probe(report, "canary:mail").message
    assert report.status is Level.CRITICAL
    assert _canaries(store, clock) == []


def _schedule_with_fire(store: Store, clock: ManualClock, late: float, outcome: Outcome) -> None:
    s = build_schedule("every-min", {"cron": "* * * * *", "tz": "UTC", "command": ["true"]})
    store.schedules.add(s, clock.now() - timedelta(minutes=5))
    nominal = clock.now() - timedelta(seconds=30)
    handled = nominal + timedelta(seconds=late)
    store.schedules.record_fires(
        "every-min", [(FireDecision(nominal, outcome), None)], clock.now(), handled
    )


def test_punctual_fires_are_ok(store: Store, clock: ManualClock) -> None:
    _schedule_with_fire(store, clock, 0.02, Outcome.SHADOW)
    probe = punctuality(store, clock.now(), tolerance=1.0)
    assert probe.status is Level.OK, probe


def test_a_late_fire_is_critical(store: Store, clock: ManualClock) -> None:
    _schedule_with_fire(store, clock, 5.0, Outcome.SHADOW)
    probe = punctuality(store, clock.now(), tolerance=1.0)
    assert (probe.status, probe.value) == (Level.CRITICAL, 1)
    assert "every-min" in probe.message
    assert punctuality(store, clock.now(), tolerance=10.0).status is Level.OK


def test_a_fire_left_undispatched_is_critical(store: Store, clock: ManualClock) -> None:
    _schedule_with_fire(store, clock, 0.0, Outcome.SHADOW)  # cursor now; then time passes
    later = clock.now() + timedelta(minutes=3)
    probe = punctuality(store, later, tolerance=60.0)
    assert probe.status is Level.CRITICAL and "not dispatched" in probe.message
