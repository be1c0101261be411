"""Cluster chores run on one daemon per period: lease rescue is done by the holder of the
`rescue` chore; when the holder goes silent another daemon takes it over in a new term."""

from __future__ import annotations

from pathlib import Path

from jobctl.domain.job import State
from jobctl.store import Store
from tests.runtime.test_daemon import make_daemon
from tests.support.clock import ManualClock
from tests.support.factories import claim, job_spec


def test_one_daemon_rescues_and_another_takes_over_when_it_goes_silent(
    store: Store, clock: ManualClock, tmp_path: Path
) -> None:
    # Given two daemons (heartbeat every 1 s: lease 3 s) on one database
    a = make_daemon(store, clock, tmp_path / "a", lease=3.0)
    b = make_daemon(store, clock, tmp_path / "b", lease=3.0)
    a.start()
    b.start()
    try:
        a.tick()
        b.tick()
        # Then A holds the rescue chore, B does not
        holder, term, _ = store.chores.holders()["rescue"]
        assert (holder, term) == (a.runner, 1)
        # Given a job whose runner died, and A silent from now on
        job_id = store.jobs.enqueue([job_spec()], clock.now())[0].id
        store.dispatch.claim(claim(runner="gone:1:x", lease=3), clock.now())
        clock.advance(3.5)  # the job's lease has expired; A's hold (2 heartbeats) too
        # When B ticks, it takes the chore over in a new term and re-queues the job as lost
        b.tick()
        holder, term, _ = store.chores.holders()["rescue"]
        assert (holder, term) == (b.runner, 2)
        job = store.jobs.get(job_id)
        assert job.state is not State.RUNNING or job.lease_owner != "gone:1:x"
        assert store.dispatch.expired(clock.now()) == []
    finally:
        for d in (a, b):
            d.drain()
            d.close()


def test_a_daemon_without_the_chore_does_not_rescue(
    store: Store, clock: ManualClock, tmp_path: Path
) -> None:
    # Given another daemon holding the rescue chore for a long while
    store.chores.hold("rescue", "elsewhere:1:x", clock.now(), 3600)
    d = make_daemon(store, clock, tmp_path, lease=3.0)
    d.start()
    try:
        job_id = store.jobs.enqueue([job_spec()], clock.now())[0].id
        store.dispatch.claim(claim(runner="gone:1:x", lease=3), clock.now())
        clock.advance(5)
        # When this daemon ticks, the expired lease is left to the chore's holder
        d.tick()
        assert store.jobs.get(job_id).lease_owner == "gone:1:x"
        # And once the holder stops (releases), this daemon rescues it at its next pass
        store.chores.release("elsewhere:1:x")
        clock.advance(1.1)
        d.tick()
        assert store.jobs.get(job_id).lease_owner != "gone:1:x"
    finally:
        d.drain()
        d.close()
