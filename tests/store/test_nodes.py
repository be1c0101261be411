"""Nodes, placement and cluster chores in the store, on both backends: a draining or
forgotten node claims nothing, placed jobs go only to matching daemons, and one holder per
chore at a time."""

from __future__ import annotations

from datetime import datetime, timedelta

from jobctl.domain.job import State
from jobctl.store import Store
from jobctl.store.repos.daemons import DaemonInfo
from jobctl.store.repos.nodes import NodeInfo
from tests.support.clock import ManualClock
from tests.support.factories import claim, job_spec


def _register(store: Store, node: str, now: datetime, tags: tuple[str, ...] = ()) -> str:
    """A daemon of `node` starts (daemon row and node row, as Daemon.start does)."""
    runner = f"{node}:1:x"
    store.daemons.register(DaemonInfo(runner, node, "host-" + node, 1, "0.1", None, now, now, 1.0))
    store.nodes.register(NodeInfo(node, "host-" + node, tags, "0.1", now, now, 1.0))
    return runner


def test_a_draining_node_claims_nothing_until_resumed(store: Store, clock: ManualClock) -> None:
    # Given two nodes and a ready job
    _register(store, "node-a", clock.now())
    _register(store, "node-b", clock.now())
    job_id = store.jobs.enqueue([job_spec()], clock.now())[0].id
    # When node-a is drained, its claims find nothing; the drain outlives a daemon restart
    assert store.nodes.set_draining("node-a", True, False, clock.now())
    _register(store, "node-a", clock.now())
    assert store.dispatch.claim(claim(runner="node-a:1:x"), clock.now()) == []
    assert [n.draining for n in store.nodes.list(clock.now())] == [True, False]
    # And after resume it claims again
    assert store.nodes.set_draining("node-a", False, False, clock.now())
    assert [j.id for j in store.dispatch.claim(claim(runner="node-a:1:x"), clock.now())] == [job_id]
    assert not store.nodes.set_draining("nobody", True, False, clock.now())


def test_drain_now_is_recorded_for_the_daemon(store: Store, clock: ManualClock) -> None:
    _register(store, "node-a", clock.now())
    store.nodes.set_draining("node-a", True, True, clock.now())
    node = store.nodes.get("node-a")
    assert node is not None and node.draining and node.drain_now
    store.nodes.set_draining("node-a", False, True, clock.now())
    node = store.nodes.get("node-a")
    assert node is not None and not node.draining and not node.drain_now


def test_liveness_follows_the_daemons_heartbeat(store: Store, clock: ManualClock) -> None:
    runner = _register(store, "node-a", clock.now())
    assert [n.alive for n in store.nodes.list(clock.now())] == [True]
    clock.advance(3.5)  # 3 heartbeat intervals of 1 s without a beat: dead
    assert [n.alive for n in store.nodes.list(clock.now())] == [False]
    store.daemons.heartbeat(runner, clock.now())
    store.nodes.heartbeat("node-a", clock.now())
    (node,) = store.nodes.list(clock.now())
    assert node.alive and node.heartbeat_at == clock.now()


def test_forget_expires_the_leases_of_the_nodes_jobs_at_once(
    store: Store, clock: ManualClock
) -> None:
    # Given node-a running one job with a 30 s lease and node-b running another
    _register(store, "node-a", clock.now())
    _register(store, "node-b", clock.now())
    ids = [e.id for e in store.jobs.enqueue([job_spec(), job_spec()], clock.now())]
    (a_job,) = store.dispatch.claim(claim(runner="node-a:1:x"), clock.now())
    (b_job,) = store.dispatch.claim(claim(runner="node-b:1:x"), clock.now())
    assert {a_job.id, b_job.id} == set(ids)
    assert [n.running for n in store.nodes.list(clock.now())] == [1, 1]
    # And node-a holds the rescue chore
    assert store.chores.hold("rescue", "node-a:1:x", clock.now(), 30) == 1
    # When node-a is forgotten, only its job's lease has expired, now, not in 30 s
    assert store.nodes.forget("node-a", clock.now()) == 1
    assert store.chores.hold("rescue", "node-b:1:x", clock.now(), 30) == 2  # passed on
    expired = [e.job.id for e in store.dispatch.expired(clock.now())]
    assert expired == [a_job.id]
    # And it leaves the list and the live daemons, and claims nothing more
    assert [n.name for n in store.nodes.list(clock.now())] == ["node-b"]
    assert {d.node for d in store.daemons.live(clock.now())} == {"node-b"}
    assert store.nodes.forget("node-a", clock.now()) is None
    store.jobs.enqueue([job_spec()], clock.now())
    assert store.dispatch.claim(claim(runner="node-a:1:x"), clock.now()) == []
    # Until a daemon starts on it again
    _register(store, "node-a", clock.now())
    assert len(store.dispatch.claim(claim(runner="node-a:1:x"), clock.now())) == 1


def test_a_job_placed_on_a_node_is_claimed_only_there(store: Store, clock: ManualClock) -> None:
    job_id = store.jobs.enqueue([job_spec(on_node="node-b")], clock.now())[0].id
    assert store.dispatch.claim(claim(runner="node-a:1:x"), clock.now()) == []
    (job,) = store.dispatch.claim(claim(runner="node-b:1:x"), clock.now())
    assert job.id == job_id and job.on_node == "node-b"


def test_a_job_placed_on_a_tag_is_claimed_only_by_a_daemon_with_it(
    store: Store, clock: ManualClock
) -> None:
    # Given a gpu job behind an untagged one of lower priority
    gpu = store.jobs.enqueue([job_spec(on_tag="gpu", priority=5)], clock.now())[0].id
    plain = store.jobs.enqueue([job_spec()], clock.now())[0].id
    # An untagged daemon, or one with other tags, skips it and takes the plain job
    assert store.dispatch.claim(claim(runner="node-a:1:x", tags=frozenset({"ssd"})), clock.now())
    assert store.jobs.get(plain).state is State.RUNNING
    assert store.dispatch.claim(claim(runner="node-a:1:x"), clock.now()) == []
    # A daemon with the tag claims it
    (job,) = store.dispatch.claim(
        claim(runner="node-b:1:x", tags=frozenset({"gpu", "ssd"})), clock.now()
    )
    assert job.id == gpu and job.on_tag == "gpu"


def test_one_holder_per_chore_and_a_new_term_when_it_lapses(
    store: Store, clock: ManualClock
) -> None:
    now = clock.now()
    assert store.chores.hold("rescue", "a", now, 10) == 1
    assert store.chores.hold("rescue", "b", now, 10) is None
    assert store.chores.hold("rescue", "a", now + timedelta(seconds=5), 10) == 1  # renewed
    assert store.chores.hold("rescue", "b", now + timedelta(seconds=14), 10) is None
    assert store.chores.hold("rescue", "b", now + timedelta(seconds=16), 10) == 2
    assert store.chores.hold("retention", "a", now, 10) == 1  # chores are independent
    store.chores.release("b")
    assert store.chores.hold("rescue", "a", now + timedelta(seconds=17), 10) == 3
    assert store.chores.holders()["rescue"][:2] == ("a", 3)
