"""Batched dispatch: a daemon tick is one store transaction holding the finishes collected
since the last tick and the claims that follow them (on both backends)."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from jobctl.clock import SystemClock
from jobctl.domain.job import JobSpec, State
from jobctl.runtime.daemon import Daemon
from jobctl.store import Store
from tests.runtime.test_daemon import make_daemon
from tests.support.clock import ManualClock
from tests.support.waiting import wait_until

GATE = threading.Event()
GATED = "tests.runtime.test_daemon_batched:gated"


def gated(payload: Any) -> None:
    """A handler that waits for the test to open GATE."""
    if not GATE.wait(30):
        raise TimeoutError("the gate never opened")


def _handler_jobs(store: Store, now: datetime, handler: str, n: int) -> list[int]:
    specs = [JobSpec(handler=handler, payload={"n": i}) for i in range(n)]
    return [e.id for e in store.jobs.enqueue(specs, now)]


def _states(store: Store, ids: list[int]) -> list[State]:
    return [store.jobs.get(i).state for i in ids]


def _started(daemon: Daemon, clock: ManualClock) -> Daemon:
    daemon.start()
    daemon.tick()  # start-up's own writes (registration, heartbeat) are behind us
    return daemon


def test_one_tick_commits_its_finishes_and_the_next_claims_together(
    store: Store, clock: ManualClock, tmp_path: Path
) -> None:
    GATE.clear()
    daemon = _started(make_daemon(store, clock, tmp_path, concurrency=2), clock)
    try:
        # Given two handler jobs running (claimed by the first tick) and three more ready
        ids = _handler_jobs(store, clock.now(), GATED, 5)
        daemon.tick()
        assert _states(store, ids).count(State.RUNNING) == 2
        # When both finish, and the next tick runs
        GATE.set()
        wait_until(lambda: len(daemon.handlers) == 0, 10, 0.01, "both handlers to return")
        before = store.db.commits
        GATE.clear()
        daemon.tick()
        # Then that tick committed once: both finishes and the two claims they made room for
        assert store.db.commits - before == 1
        states = _states(store, ids)
        assert states.count(State.SUCCEEDED) == 2
        assert states.count(State.RUNNING) == 2
        assert states.count(State.QUEUED) == 1
    finally:
        GATE.set()
        daemon.drain()
        daemon.close()


def test_a_tick_records_the_pids_it_spawned_with_the_next_claims(
    store: Store, clock: ManualClock, tmp_path: Path
) -> None:
    # Given command jobs claimed and spawned by one tick
    daemon = _started(make_daemon(store, clock, tmp_path, concurrency=2), clock)
    try:
        ids = [
            e.id
            for e in store.jobs.enqueue(
                [JobSpec(command=["sleep", "30"]) for _ in range(2)], clock.now()
            )
        ]
        daemon.tick()
        assert _states(store, ids) == [State.RUNNING, State.RUNNING]
        # When the next tick runs, its one transaction puts their pids on record
        before = store.db.commits
        daemon.tick()
        assert store.db.commits - before == 1
        pids = {o.job.id: o.pid for o in store.dispatch.orphans("test-node", "someone-else")}
        assert set(pids) == set(ids) and all(pids.values())
    finally:
        daemon.drain()
        daemon.close()


def test_handler_jobs_drain_through_the_warm_pool(
    store: Store, clock: ManualClock, tmp_path: Path
) -> None:
    daemon = _started(make_daemon(store, clock, tmp_path, concurrency=4), clock)
    try:
        ids = _handler_jobs(store, clock.now(), "json:dumps", 50)
        daemon.run_until_idle()
        assert _states(store, ids) == [State.SUCCEEDED] * 50
        assert sum(t.name.startswith("handler-") for t in threading.enumerate()) >= 4
    finally:
        daemon.drain()
        daemon.close()


def test_a_handler_job_that_ends_during_the_drain_is_recorded_not_given_back(
    store: Store, tmp_path: Path
) -> None:
    # Given a handler job running when the daemon is asked to stop (a real clock: the
    # drain waits up to its grace in real time)
    GATE.clear()
    clock = SystemClock()
    daemon = make_daemon(store, clock, tmp_path, concurrency=1, grace=20.0)  # type: ignore[arg-type]
    daemon.start()
    try:
        (job_id,) = _handler_jobs(store, clock.now(), GATED, 1)
        daemon.tick()
        assert store.jobs.get(job_id).state is State.RUNNING
        # When it returns during the drain
        threading.Timer(0.2, GATE.set).start()
        daemon.drain()
        # Then its success is on record (it is not put back to run again after the grace)
        assert store.jobs.get(job_id).state is State.SUCCEEDED
    finally:
        GATE.set()
        daemon.close()
