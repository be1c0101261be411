"""Status figures from the store, with time passed in."""

from __future__ import annotations

from datetime import timedelta

from jobctl.domain.percentile import p95
from jobctl.store import Store
from tests.support.clock import ManualClock
from tests.support.factories import claim, job_spec


def test_wait_counts_from_the_later_of_run_at_and_enqueue(store: Store, clock: ManualClock) -> None:
    # Given a job enqueued now to run at a time already past (`--at` an hour ago),
    # and one enqueued now to run in 10 s
    enqueued = clock.now()
    store.jobs.enqueue([job_spec(run_at=enqueued - timedelta(hours=1))], enqueued)
    store.jobs.enqueue([job_spec(run_at=enqueued + timedelta(seconds=10))], enqueued)
    # When both are claimed 12 s after the enqueue
    clock.advance(12)
    assert len(store.dispatch.claim(claim(slots=2), clock.now())) == 2
    # Then the past job waited 12 s (not an hour and 12 s), the future one 2 s
    waits = store.stats.queue_figures(clock.now())["default"].waits
    assert sorted(waits) == [2.0, 12.0]
    assert p95(waits) == 12.0
