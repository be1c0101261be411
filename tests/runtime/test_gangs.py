"""Gang jobs driven through real daemons (one per node, in this process, real processes) on
each backend: all members start together or none does; two gangs never deadlock; jobs after a
waiting gang wait only for its slots; a failing member stops its siblings, which may save a
checkpoint, and the gang runs again as one with one attempt spent; late endings of an old
epoch are refused."""

from __future__ import annotations

import io
import random
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from jobctl.client import Client
from jobctl.clock import utcnow
from jobctl.config.model import Config, QueueConfig
from jobctl.config.resolve import EnqueueOptions
from jobctl.domain.failure import Decision
from jobctl.domain.job import FailureClass, State
from jobctl.domain.retry import RetryPolicy
from jobctl.errors import InvalidInput, WrongState
from jobctl.runtime.daemon import Daemon, DaemonOptions
from jobctl.runtime.eventlog import EventLog
from jobctl.runtime.launch import LaunchContext
from jobctl.store import Store, open_store
from jobctl.store.repos.dispatch import Finish
from tests.support.clock import ManualClock
from tests.support.factories import job_spec

DEADLINE = 30.0  # seconds of wall time for processes to start and end on a loaded machine


def node_daemon(
    store: Store, clock: ManualClock, tmp: Path, node: str, concurrency: int = 1
) -> Daemon:
    opts = DaemonOptions(node=node, concurrency=concurrency, lease=30.0, grace=0.0, kill_grace=5.0)
    ctx = LaunchContext(store.url, node, tmp / node, 1 << 20, {"PATH": "/bin:/usr/bin"})
    log = EventLog("logfmt", io.StringIO())
    return Daemon(store, Config(), opts, clock, log, ctx, rng=random.Random(1))


@pytest.fixture
def clock() -> ManualClock:
    """Manual, from the real time: the daemons' heartbeats are live to a Client's check."""
    return ManualClock(utcnow())


@pytest.fixture
def cluster(db_url: str, clock: ManualClock, tmp_path: Path) -> Iterator[list[Daemon]]:
    """Three nodes n1..n3 with one slot each, started, each on its own connection (as
    separate hosts: each sees the others' writes through its change feed)."""
    stores = [open_store(db_url) for _ in range(3)]
    daemons = [node_daemon(s, clock, tmp_path, f"n{i}") for i, s in enumerate(stores, 1)]
    for d in daemons:
        d.start()
    yield daemons
    for d in daemons:
        d.stopping = True
        d.drain()
        d.close()
    for s in stores:
        s.close()


def spin(daemons: Sequence[Daemon], done: Callable[[], bool], what: str) -> None:
    """Tick every daemon in turn (each waiting briefly for its processes), the clock moving
    0.1 s a round (heartbeats, rescans), until `done`."""
    clock = daemons[0].clock
    assert isinstance(clock, ManualClock)
    deadline = time.monotonic() + DEADLINE
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        for d in daemons:
            d.tick()
            d._collect(d.executor.poll(0.01))
        clock.advance(0.1)


def gang_of(
    store: Store, clock: ManualClock, size: int, command: list[str], **fields: object
) -> int:
    return store.jobs.enqueue([job_spec(command, gang_size=size, **fields)], clock.now())[0].id


def members(store: Store, gang_id: int) -> list[int]:
    gang = store.gangs.get(gang_id)
    assert gang is not None
    return [m.job_id for m in gang.members]


def states(store: Store, gang_id: int) -> list[State]:
    return [store.jobs.get(i).state for i in members(store, gang_id)]


def test_a_gang_of_three_starts_together_one_member_per_node(
    store: Store, clock: ManualClock, cluster: list[Daemon], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    script = f'echo "$JOBCTL_GANG_ID $JOBCTL_GANG_SIZE $JOBCTL_NODE" > {out}/$JOBCTL_GANG_RANK'
    gang_id = gang_of(store, clock, 3, ["sh", "-c", script])
    n1, n2, _n3 = cluster
    # When two nodes have ticked, two members are reserved and none runs (no partial start)
    n1.tick()
    n2.tick()
    assert states(store, gang_id) == [State.QUEUED] * 3
    assert (n1.reserved, n2.reserved) == (1, 1)
    assert not n1.running and not n2.running
    # When the third takes the last one, all start; each node launches its own
    spin(cluster, lambda: states(store, gang_id) == [State.SUCCEEDED] * 3, "the gang to end")
    gang = store.gangs.get(gang_id)
    assert gang is not None and (gang.state, gang.epoch) == ("succeeded", 1)
    assert sorted(m.node for m in gang.members) == ["n1", "n2", "n3"]
    lines = sorted((out / str(rank)).read_text().split() for rank in range(3))
    assert [line[:2] for line in lines] == [[str(gang_id), "3"]] * 3
    assert sorted(line[2] for line in lines) == ["n1", "n2", "n3"]
    assert all(d.reserved == 0 for d in cluster)


def test_no_member_starts_until_every_slot_is_free(
    store: Store, clock: ManualClock, cluster: list[Daemon], tmp_path: Path
) -> None:
    # Given n3's only slot busy with a job that ends when the test says so
    release = tmp_path / "release"
    busy = store.jobs.enqueue(
        [job_spec(["sh", "-c", f"while [ ! -e {release} ]; do sleep 0.01; done"], on_node="n3")],
        clock.now(),
    )[0].id
    n1, n2, n3 = cluster
    spin([n3], lambda: store.jobs.get(busy).state is State.RUNNING, "the busy job to start")
    gang_id = gang_of(store, clock, 3, ["true"])
    # When every node ticks a while, two members are reserved and none runs
    for _ in range(20):
        for d in cluster:
            d.tick()
    assert states(store, gang_id) == [State.QUEUED] * 3
    assert n1.reserved + n2.reserved == 2
    # When n3's job ends, the gang starts and runs to the end
    release.touch()
    spin(cluster, lambda: states(store, gang_id) == [State.SUCCEEDED] * 3, "the gang")


def test_two_gangs_wanting_the_same_slots_both_run_without_deadlock(
    store: Store, clock: ManualClock, cluster: list[Daemon]
) -> None:
    first = gang_of(store, clock, 3, ["true"])
    second = gang_of(store, clock, 2, ["true"])
    # When the nodes tick in an order that would split the slots between the two gangs
    cluster[2].tick()
    cluster[0].tick()
    # Then only the first gang holds reservations, and both gangs end
    assert store.jobs.get(members(store, second)[0]).lease_owner is None
    spin(
        cluster,
        lambda: states(store, first) + states(store, second) == [State.SUCCEEDED] * 5,
        "both gangs",
    )
    one, two = store.gangs.get(first), store.gangs.get(second)
    assert one is not None and two is not None and one.started_at <= two.started_at  # type: ignore[operator]


def test_jobs_before_a_waiting_gang_run_and_jobs_after_it_wait_for_its_slots(
    store: Store, clock: ManualClock, cluster: list[Daemon]
) -> None:
    # Given, in claim order: a job, a gang of 3, another job (3 slots in all)
    before = store.jobs.enqueue([job_spec(["sleep", "0.3"])], clock.now())[0].id
    gang_id = gang_of(store, clock, 3, ["true"])
    after = store.jobs.enqueue([job_spec(["true"])], clock.now())[0].id
    # When the nodes tick once: the job before the gang runs, the gang reserves the other two
    for d in cluster:
        d.tick()
    assert store.jobs.get(before).state is State.RUNNING
    assert store.jobs.get(after).state is State.QUEUED
    assert sum(d.reserved for d in cluster) == 2
    # Then the job after the gang runs only once the gang has started
    spin(cluster, lambda: store.jobs.get(after).state is State.SUCCEEDED, "the later job")
    gang = store.gangs.get(gang_id)
    later = store.jobs.get(after)
    assert gang is not None and gang.started_at is not None and later.started_at is not None
    assert gang.started_at <= later.started_at


def test_a_gang_the_live_nodes_cannot_hold_blocks_nothing(
    store: Store, clock: ManualClock, cluster: list[Daemon]
) -> None:
    # Given a gang of 5 (3 live slots: a node that held more went away) and a later job
    gang_id = gang_of(store, clock, 5, ["true"])
    later = store.jobs.enqueue([job_spec(["true"])], clock.now())[0].id
    # Then the later job runs; the gang waits, holding no slot
    spin(cluster, lambda: store.jobs.get(later).state is State.SUCCEEDED, "the later job")
    assert states(store, gang_id) == [State.QUEUED] * 5
    assert all(d.reserved == 0 for d in cluster)


def test_a_failing_member_stops_its_siblings_which_keep_checkpoints_one_attempt_in_all(
    store: Store, clock: ManualClock, cluster: list[Daemon], tmp_path: Path
) -> None:
    # Given a gang whose rank 0 fails on its first run while ranks 1 and 2 wait, trap
    # SIGTERM and save a checkpoint, and record the checkpoint each run starts from
    seen = tmp_path / "seen"
    seen.mkdir()
    script = f"""
        echo "${{JOBCTL_CHECKPOINT:-none}}" > {seen}/$JOBCTL_GANG_RANK.$JOBCTL_ATTEMPT
        if [ "$JOBCTL_ATTEMPT" = 2 ]; then exit 0; fi
        if [ "$JOBCTL_GANG_RANK" = 0 ]; then
            while [ "$(ls {seen} | wc -l)" -lt 3 ]; do sleep 0.01; done; exit 3
        fi
        trap 'jobctl checkpoint set "rank $JOBCTL_GANG_RANK at 42"; exit 143' TERM
        while true; do sleep 0.01; done
    """
    gang_id = gang_of(
        store, clock, 3, ["sh", "-c", script], retry=RetryPolicy(max_attempts=3, base=600.0)
    )
    ids = members(store, gang_id)
    for d in cluster:  # the members' `jobctl checkpoint set` finds this database
        d.launch_ctx.base_env["JOBCTL_DB"] = store.url
        d.launch_ctx.base_env["PATH"] = f"{Path(__import__('sys').executable).parent}:/bin:/usr/bin"
    # When rank 0 fails, the others are stopped and the gang waits for its retry
    spin(cluster, lambda: store.gangs.get(gang_id).state == "waiting"  # type: ignore[union-attr]
         and store.gangs.get(gang_id).epoch == 1, "the gang to stop")  # type: ignore[union-attr]  # fmt: skip
    assert states(store, gang_id) == [State.RETRYING] * 3
    first = [store.jobs.attempts(i)[0].failure_class for i in ids]
    assert first == [FailureClass.EXIT.value, "preempted", "preempted"]
    assert [store.jobs.get(i).checkpoint for i in ids] == [None, "rank 1 at 42", "rank 2 at 42"]
    # When its backoff has passed, it runs again as one from the saved checkpoints
    clock.advance(7200)
    spin(cluster, lambda: states(store, gang_id) == [State.SUCCEEDED] * 3, "the retried gang")
    assert [(seen / f"{rank}.2").read_text().strip() for rank in range(3)] == [
        "none",
        "rank 1 at 42",
        "rank 2 at 42",
    ]
    # And one attempt was spent in all: every member is at attempt 2 of its budget of 3
    assert {store.jobs.get(i).attempts for i in ids} == {2}
    gang = store.gangs.get(gang_id)
    assert gang is not None and (gang.state, gang.epoch) == ("succeeded", 2)


def test_a_gang_out_of_attempts_ends_dead_with_one_dlq_entry(
    store: Store, clock: ManualClock, cluster: list[Daemon]
) -> None:
    gang_id = gang_of(
        store,
        clock,
        2,
        ["sh", "-c", '[ "$JOBCTL_GANG_RANK" = 1 ] && exit 4; exec sleep 30'],
        retry=RetryPolicy(max_attempts=1),
    )
    ids = members(store, gang_id)
    spin(cluster, lambda: store.gangs.get(gang_id).state == "dead", "the gang to die")  # type: ignore[union-attr]
    assert states(store, gang_id) == [State.CANCELLED, State.DEAD]
    dead = store.jobs.get(ids[1])
    assert dead.dlq_id is not None and store.dlq.get(dead.dlq_id).job_id == ids[1]
    assert store.jobs.get(ids[0]).error == f"gang {gang_id}: stopped because rank 1 failed"


def test_a_late_ending_from_an_old_epoch_is_refused(
    store: Store, clock: ManualClock, cluster: list[Daemon], tmp_path: Path
) -> None:
    # Given a gang that failed once and was started again (epoch 2)
    flag = tmp_path / "failed-once"
    script = f"if [ ! -e {flag} ]; then touch {flag}; exit 1; fi; exec sleep 30"
    gang_id = gang_of(store, clock, 2, ["sh", "-c", script], retry=RetryPolicy(base=600.0))
    ids = members(store, gang_id)
    spin(cluster, lambda: store.gangs.get(gang_id).epoch == 1  # type: ignore[union-attr]
         and store.gangs.get(gang_id).state == "waiting", "the first failure")  # type: ignore[union-attr]  # fmt: skip
    clock.advance(7200)
    spin(cluster, lambda: states(store, gang_id) == [State.RUNNING] * 2, "epoch 2")
    job = store.jobs.get(ids[0])
    # When an ending of epoch 1 arrives late, from the runner that runs epoch 2
    late = Finish(ids[0], 1, job.lease_owner or "", Decision(State.SUCCEEDED, None))
    assert store.dispatch.finish([late], clock.now()) == []
    # Then nothing changed; a checkpoint of epoch 1 is refused too
    assert states(store, gang_id) == [State.RUNNING] * 2
    with pytest.raises(WrongState, match="epoch 1 is refused"):
        store.jobs.set_checkpoint(ids[0], "stale", epoch=1)
    store.jobs.set_checkpoint(ids[0], "fresh", epoch=2)


def test_a_member_put_back_stops_the_gang_without_spending_an_attempt(
    store: Store, clock: ManualClock, cluster: list[Daemon]
) -> None:
    gang_id = gang_of(store, clock, 3, ["sleep", "30"], retry=RetryPolicy(max_attempts=1))
    spin(cluster, lambda: states(store, gang_id) == [State.RUNNING] * 3, "the gang to start")
    # When n2 is drained with --now, its member is put back and the gang stops as one
    store.nodes.set_draining("n2", True, True, clock.now())
    clock.advance(1)  # the daemons look at their node's row once a second
    spin(cluster, lambda: store.gangs.get(gang_id).state == "waiting", "the gang to stop")  # type: ignore[union-attr]
    ids = members(store, gang_id)
    assert states(store, gang_id) == [State.QUEUED] * 3
    # Then no attempt was spent (its budget of 1 is whole), and it waits: 2 live slots
    assert {store.jobs.get(i).attempts_in_budget for i in ids} == {0}
    assert all(d.reserved == 0 for d in cluster)
    # When n2 resumes, the gang runs again
    store.nodes.set_draining("n2", False, False, clock.now())
    clock.advance(1)
    spin(cluster, lambda: states(store, gang_id) == [State.RUNNING] * 3, "the gang again")


def test_cancelling_one_member_cancels_the_gang(
    store: Store, clock: ManualClock, cluster: list[Daemon]
) -> None:
    waiting = gang_of(store, clock, 4, ["true"])  # larger than the cluster: it waits
    ids = members(store, waiting)
    results = store.jobs.cancel([ids[2]], clock.now(), "op")
    assert sorted(r.id for r in results) == ids
    assert states(store, waiting) == [State.CANCELLED] * 4
    assert store.gangs.get(waiting).state == "cancelled"  # type: ignore[union-attr]
    running = gang_of(store, clock, 3, ["sleep", "30"])
    spin(cluster, lambda: states(store, running) == [State.RUNNING] * 3, "the gang to start")
    store.jobs.cancel([running], clock.now(), "op")
    spin(cluster, lambda: store.gangs.get(running).state == "cancelled", "the gang to end")  # type: ignore[union-attr]
    assert states(store, running) == [State.CANCELLED] * 3


def test_a_gang_larger_than_the_live_slots_is_refused_at_enqueue(
    db_url: str, store: Store, cluster: list[Daemon]
) -> None:
    client = Client(db_url, Config())
    try:
        with pytest.raises(InvalidInput, match=r"--gang 4: .*capacity of 3 slots on 3 live"):
            client.enqueue_options([EnqueueOptions(command=["true"], gang=4)])
        with pytest.raises(InvalidInput, match=r"invalid --gang 0"):
            client.enqueue_options([EnqueueOptions(command=["true"], gang=0)])
        assert client.enqueue_options([EnqueueOptions(command=["true"], gang=3)])
    finally:
        client.close()


def test_with_no_live_node_a_gang_is_accepted_and_waits(db_url: str, store: Store) -> None:
    client = Client(db_url, Config())
    try:
        (entry,) = client.enqueue_options([EnqueueOptions(command=["true"], gang=64)])
        assert len(members(store, entry.id)) == 64
    finally:
        client.close()


def test_a_gang_is_refused_where_its_members_could_not_start_together(db_url: str) -> None:
    config = Config(queues=(QueueConfig("limited", concurrency=2),))
    client = Client(db_url, config)
    try:
        with pytest.raises(InvalidInput, match=r"queue 'limited' has a concurrency or rate"):
            client.enqueue_options([EnqueueOptions(command=["true"], gang=2, queue="limited")])
        with pytest.raises(InvalidInput, match=r"--gang 2 with --ordering-key 'k'"):
            client.enqueue_options([EnqueueOptions(command=["true"], gang=2, ordering_key="k")])
        with pytest.raises(InvalidInput, match=r"invalid --gang 1001"):
            client.enqueue_options([EnqueueOptions(command=["true"], gang=1001)])
        assert client.list() == []
    finally:
        client.close()


def test_a_forgotten_nodes_reservations_are_free_at_once(
    store: Store, clock: ManualClock, cluster: list[Daemon]
) -> None:
    # Given a gang of 3 with one member reserved by n1, which then goes away for good
    gang_id = gang_of(store, clock, 3, ["true"])
    cluster[0].tick()
    assert cluster[0].reserved == 1
    assert store.nodes.forget("n1", clock.now()) == 0
    # Then nobody holds a reservation for it any more
    gang = store.gangs.get(gang_id, clock.now())
    assert gang is not None and gang.reserved == 0


def test_retry_of_a_dead_gang_runs_it_again_as_one_and_a_replay_is_a_new_gang(
    store: Store, clock: ManualClock, cluster: list[Daemon], tmp_path: Path
) -> None:
    flag = tmp_path / "fixed"
    script = f'[ -e {flag} ] || [ "$JOBCTL_GANG_RANK" != 1 ] || exit 5'
    gang_id = gang_of(store, clock, 2, ["sh", "-c", script], retry=RetryPolicy(max_attempts=1))
    spin(cluster, lambda: store.gangs.get(gang_id).state == "dead", "the gang to die")  # type: ignore[union-attr]
    dead = store.jobs.get(members(store, gang_id)[1])
    flag.touch()
    # When any member is retried, the whole gang runs again
    store.jobs.retry([gang_id], clock.now())
    assert store.gangs.get(gang_id).state == "waiting"  # type: ignore[union-attr]
    spin(cluster, lambda: states(store, gang_id) == [State.SUCCEEDED] * 2, "the retried gang")
    # And replaying its DLQ entry enqueues a new gang of 2
    from jobctl.ops.dlq import spec_of

    assert dead.dlq_id is not None
    assert spec_of(dead).gang_size == 2


def test_a_daemon_running_a_member_still_gives_way_to_a_new_first_gang(
    store: Store, clock: ManualClock, db_url: str, tmp_path: Path
) -> None:
    # Given n1 (two slots) running a member of gang A, and holding a reservation of gang B
    stores = [open_store(db_url) for _ in range(2)]
    n1 = node_daemon(stores[0], clock, tmp_path, "n1", concurrency=2)
    n2 = node_daemon(stores[1], clock, tmp_path, "n2", concurrency=1)
    try:
        for d in (n1, n2):
            d.start()
        a = gang_of(store, clock, 1, ["sleep", "30"])
        spin([n1], lambda: states(store, a) == [State.RUNNING], "gang A")
        b = gang_of(store, clock, 3, ["true"])
        spin([n1], lambda: n1.reserved == 1, "n1's reservation of B")
        # When a gang of higher priority arrives, n1 gives B's reservation up for it
        c = gang_of(store, clock, 2, ["true"], priority=5)
        spin([n1, n2], lambda: states(store, c) == [State.SUCCEEDED] * 2, "gang C")
        assert store.gangs.get(b).state == "waiting"  # type: ignore[union-attr]
    finally:
        for d in (n1, n2):
            d.stopping = True
            d.drain()
            d.close()
        for s in stores:
            s.close()
