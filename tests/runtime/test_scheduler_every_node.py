"""`--on-every-node` schedules tick by tick on both backends: one job per live, non-draining
matching node per fire, spread over the stagger, the fire recorded once; overlap per node;
no live node is the `no_node` outcome."""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime, timedelta

import pytest

from jobctl.config.model import Config
from jobctl.config.schedules import build_schedule
from jobctl.domain.job import State
from jobctl.runtime.eventlog import EventLog
from jobctl.runtime.scheduler import Scheduler
from jobctl.store import Store
from jobctl.store.repos.daemons import DaemonInfo
from jobctl.store.repos.nodes import NodeInfo
from tests.support.clock import ManualClock
from tests.support.factories import claim

START = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
FIRE = START + timedelta(minutes=1)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


def node(
    store: Store, name: str, now: datetime, *tags: str, queues: list[str] | None = None
) -> None:
    """A daemon of `name` is up (its heartbeat interval outlasts the test's clock)."""
    runner = f"{name}:1:x"
    store.daemons.register(DaemonInfo(runner, name, name, 1, "t", queues, now, now, 3600.0))
    store.nodes.register(NodeInfo(name, name, tags, "t", now, now, 3600.0))


def every_node(store: Store, clock: ManualClock, **fields: object) -> Scheduler:
    spec = {"cron": "* * * * *", "tz": "UTC", "command": ["true"], "on_every_node": True,
            **fields}  # fmt: skip
    store.schedules.add(build_schedule("fleet", spec), clock.now())
    sched = Scheduler(store, clock, EventLog("logfmt", io.StringIO()), Config, random.Random(3))
    sched.start(clock.now())
    return sched


def jobs(store: Store, clock: ManualClock) -> list[tuple[str | None, datetime, datetime | None]]:
    found = sorted(store.jobs.list(clock.now(), limit=100), key=lambda j: j.id)
    return [(j.on_node, j.run_at, j.nominal_at) for j in found]


def test_each_fire_enqueues_one_job_per_node_spread_over_the_stagger(
    store: Store, clock: ManualClock
) -> None:
    # Given three live nodes, one of them draining, and one serving another queue only
    for name in ("n3", "n1", "n2", "n4"):
        node(store, name, clock.now())
    node(store, "other", clock.now(), queues=["batch"])
    store.nodes.set_draining("n4", True, False, clock.now())
    sched = every_node(store, clock, stagger="30s")
    # When the schedule fires
    clock.advance(61)
    assert sched.tick(clock.now()) == 3
    # Then each of n1..n3 has one job placed on it, node i of 3 due at FIRE + i*10 s
    assert jobs(store, clock) == [
        ("n1", FIRE, FIRE),
        ("n2", FIRE + timedelta(seconds=10), FIRE),
        ("n3", FIRE + timedelta(seconds=20), FIRE),
    ]
    # And the fire is recorded once, pointing at the first job
    (fire,) = store.schedules.fires("fleet", None)
    assert fire.outcome == "enqueued" and fire.nominal_at == FIRE
    last = store.schedules.last_fire("fleet")
    assert last is not None and [j.on_node for j in last.jobs] == ["n1", "n2", "n3"]
    assert fire.job_id == last.jobs[0].id


def test_on_tag_picks_every_tagged_node(store: Store, clock: ManualClock) -> None:
    node(store, "a", clock.now(), "gpu")
    node(store, "b", clock.now())
    node(store, "c", clock.now(), "gpu", "ssd")
    sched = every_node(store, clock, on_tag="gpu")
    clock.advance(61)
    sched.tick(clock.now())
    assert [n for n, _at, _nominal in jobs(store, clock)] == ["a", "c"]
    assert all(j.on_tag is None for j in store.jobs.list(clock.now()))


def test_overlap_forbid_skips_only_the_node_whose_previous_job_still_runs(
    store: Store, clock: ManualClock
) -> None:
    node(store, "n1", clock.now())
    node(store, "n2", clock.now())
    sched = every_node(store, clock)
    clock.advance(60)
    sched.tick(clock.now())
    # Given n1 finished its job of the first fire (cancelled here) and n2's still runs
    first = {j.on_node: j.id for j in store.jobs.list(clock.now())}
    store.jobs.cancel([first["n1"]], clock.now(), "done")
    assert [j.id for j in store.dispatch.claim(claim(runner="n2:1:x"), clock.now())] == [
        first["n2"]
    ]
    # When it fires again, only n1 gets a job; the fire is enqueued
    clock.advance(60)
    assert sched.tick(clock.now()) == 1
    newest = max(store.jobs.list(clock.now()), key=lambda j: j.id)
    assert (newest.on_node, newest.state) == ("n1", State.QUEUED)
    assert [f.outcome for f in store.schedules.fires("fleet", None)] == ["enqueued", "enqueued"]
    # And when both are busy, the fire is an overlap
    clock.advance(60)
    assert sched.tick(clock.now()) == 0
    assert store.schedules.fires("fleet", None)[0].outcome == "overlap"


def test_no_live_node_is_recorded_as_no_node_and_in_the_missed_ledger(
    store: Store, clock: ManualClock
) -> None:
    node(store, "n1", clock.now())
    store.nodes.set_draining("n1", True, False, clock.now())
    sched = every_node(store, clock)
    clock.advance(61)
    assert sched.tick(clock.now()) == 0
    (fire,) = store.schedules.fires("fleet", None)
    assert (fire.outcome, fire.job_id) == ("no_node", None)
    assert store.jobs.list(clock.now()) == []
    # a `missed` notification event is written with the fire
    (event,) = [e for e in store.notify.events() if e.kind == "missed"]
    assert event.body["reason"] == "no_node"
