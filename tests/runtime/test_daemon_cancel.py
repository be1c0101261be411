"""A cancel reaches the daemon running the job at its next tick, whenever the request lands:
the change feed is read once per tick, for claims and cancels alike (a change seen by the
claim step was once lost to the cancel step, and the job ran on until it ended)."""

from __future__ import annotations

import io
import random
import time
from collections.abc import Callable
from pathlib import Path

from jobctl.config.model import Config
from jobctl.domain.job import State
from jobctl.runtime.daemon import Daemon, DaemonOptions
from jobctl.runtime.eventlog import EventLog
from jobctl.runtime.launch import LaunchContext
from jobctl.store import open_store
from tests.support.clock import ManualClock
from tests.support.factories import job_spec
from tests.support.waiting import wait_until


class TrippedClock(ManualClock):
    """A manual clock that runs `trip` once, at the `at`-th monotonic() read after arm():
    a way to land another process's write at a chosen point inside one daemon tick."""

    def __init__(self) -> None:
        super().__init__()
        self._trip: Callable[[], None] | None = None
        self._reads = 0

    def arm(self, at: int, trip: Callable[[], None]) -> None:
        self._trip, self._reads = trip, at

    def monotonic(self) -> float:
        if self._trip is not None:
            self._reads -= 1
            if self._reads == 0:
                trip, self._trip = self._trip, None
                trip()
        return super().monotonic()


def test_a_cancel_landing_after_the_cancel_check_is_acted_on_at_the_next_tick(
    db_path: Path, tmp_path: Path
) -> None:
    # Given a daemon with free slots running one long job, and another process's store
    # (SQLite: a commit by another connection is visible at once, no feed thread involved)
    clock = TrippedClock()
    store, other = open_store(str(db_path)), open_store(str(db_path))
    ctx = LaunchContext(str(db_path), "n1", tmp_path / "logs", 1 << 20, {"PATH": "/bin:/usr/bin"})
    options = DaemonOptions(node="n1", concurrency=4, grace=0.0)
    log = EventLog("logfmt", io.StringIO())
    daemon = Daemon(store, Config(), options, clock, log, ctx, rng=random.Random(1))
    daemon.start()
    try:
        job_id = other.jobs.enqueue([job_spec(["sleep", "5"])], clock.now())[0].id
        wait_until(lambda: daemon.tick() or store.jobs.get(job_id).state is State.RUNNING,
                   10, 0.01, "the job running")  # fmt: skip
        daemon.tick()  # its pid on record; nothing else to do
        # When the operator's cancel commits inside a tick, after that tick looked for
        # cancels (the 2nd clock read: the scheduler's, past the cancel check)
        clock.arm(2, lambda: other.jobs.cancel([job_id], clock.now(), "op"))
        daemon.tick()
        assert other.jobs.get(job_id).cancel_requested
        # Then the next ticks stop the job, with no other change in the database (else it
        # would run its 5 s and succeed)
        started = time.monotonic()
        daemon.run_until_idle()
        assert store.jobs.get(job_id).state is State.CANCELLED
        assert time.monotonic() - started < 4
    finally:
        daemon.drain()
        daemon.close()
        store.close()
        other.close()
