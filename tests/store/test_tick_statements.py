"""The daemon's tick transaction, lean (issue 16): a finish reads its subject's notification
streak in its own jobs update, the paused queues are left out by the claim's own statement,
the node check and the waiting-gang probe are one statement, and the tick's attempt endings
are written together. Behaviour on both backends; statement counts on a SQLite file."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from jobctl.domain.failure import Decision
from jobctl.domain.job import FailureClass, State
from jobctl.domain.retry import RetryPolicy
from jobctl.store import Store, open_store
from jobctl.store.repos.dispatch import Finish
from jobctl.store.repos.nodes import NodeInfo
from tests.support.clock import ManualClock
from tests.support.factories import claim, job_spec

RUNNER = "node-a:1:x"
OK = Decision(State.SUCCEEDED, None)
DEAD = Decision(State.DEAD, FailureClass.EXIT, to_dlq=True)


def _kinds(store: Store) -> list[tuple[str, str | None, int | None]]:
    return [(e.kind, e.subject, e.get("streak")) for e in reversed(store.notify.events())]


@contextmanager
def _statements(store: Store) -> Iterator[list[str]]:
    """The SQL statements the store's SQLite connection runs inside the block."""
    raw = store.db.raw  # type: ignore[attr-defined]
    assert isinstance(raw, sqlite3.Connection)
    seen: list[str] = []
    raw.set_trace_callback(seen.append)
    try:
        yield seen
    finally:
        raw.set_trace_callback(None)


def test_a_tick_of_one_finish_and_one_claim_is_seven_statements(
    db_path: Path, clock: ManualClock
) -> None:
    store = open_store(str(db_path))  # a real SQLite file
    try:
        # Given typed jobs (their streak subject is their type), one of them running
        store.jobs.enqueue([job_spec(job_type="noop") for _ in range(3)], clock.now())
        (job,) = store.dispatch.claim(claim(), clock.now())
        finish = Finish(job.id, job.attempts, RUNNER, OK, exit_code=0, duration=0.1)
        # When a tick finishes it and claims the next one
        with _statements(store) as seen:
            tick = store.dispatch.tick([finish], claim(), clock.now())
        # Then: BEGIN, the jobs update (its streak read folded in), the attempt's ending,
        # the pick (paused queues, node and gang checks in it), the claim's update and its
        # attempts row, COMMIT
        assert len(tick.applied) == 1 and len(tick.claimed) == 1
        assert [s.split()[0] for s in seen] == [
            "BEGIN", "UPDATE", "UPDATE", "SELECT", "UPDATE", "INSERT", "COMMIT",
        ], seen  # fmt: skip
        assert tick.claimed[0].id == job.id + 1
    finally:
        store.close()


def test_a_claim_that_finds_nothing_ready_looks_no_further_than_the_full_claim(
    db_path: Path, clock: ManualClock
) -> None:
    store = open_store(str(db_path))
    try:
        with _statements(store) as seen:
            assert store.dispatch.claim(claim(), clock.now()) == []
        # the plain pick, then the full claim's: node and gang check, pick
        assert [s.split()[0] for s in seen] == ["BEGIN", "SELECT", "SELECT", "SELECT", "COMMIT"]
    finally:
        store.close()


def test_claims_come_in_claim_order(store: Store, clock: ManualClock) -> None:
    now = clock.now()
    specs = [job_spec(priority=p) for p in (0, 5, 0, 9, 5)]
    ids = [e.id for e in store.jobs.enqueue(specs, now)]
    early = store.jobs.enqueue([job_spec(priority=5, run_at=now.replace(year=2000))], now)[0].id
    got = [j.id for j in store.dispatch.claim(claim(slots=4), clock.now())]
    assert got == [ids[3], early, ids[1], ids[4]]  # priority, then due time, then id
    got = [j.id for j in store.dispatch.claim(claim(slots=4), clock.now())]
    assert got == [ids[0], ids[2]]


def test_with_a_gang_waiting_or_a_limit_the_full_claim_decides(
    store: Store, clock: ManualClock
) -> None:
    now = clock.now()
    # Given a waiting gang first in claim order that no live node can hold (none is live)
    gang = store.jobs.enqueue([job_spec(priority=9, gang_size=2)], now)[0].id
    (plain,) = store.jobs.enqueue([job_spec(queue="q")], now)
    # Then it blocks nothing: the job after it is claimed, the gang keeps waiting
    assert [j.id for j in store.dispatch.claim(claim(slots=2), now)] == [plain.id]
    assert store.jobs.get(gang).state is State.QUEUED
    # And a queue at its concurrency limit gives nothing
    (full,) = store.jobs.enqueue([job_spec(queue="q")], now)
    assert store.dispatch.claim(claim(slots=1, limits={"q": 1}), now) == []
    assert [j.id for j in store.dispatch.claim(claim(slots=1, limits={"q": 2}), now)] == [full.id]


def test_a_success_after_deaths_in_the_same_tick_is_recovered_with_their_streak(
    store: Store, clock: ManualClock
) -> None:
    # Given three jobs of one name running at once
    one = RetryPolicy(max_attempts=1)
    store.jobs.enqueue([job_spec(name="nightly", retry=one) for _ in range(3)], clock.now())
    a, b, c = store.dispatch.claim(claim(slots=3), clock.now())
    # When one tick records two deaths then a success, in that order
    ends = [
        Finish(a.id, a.attempts, RUNNER, DEAD, exit_code=3),
        Finish(b.id, b.attempts, RUNNER, DEAD, exit_code=3),
        Finish(c.id, c.attempts, RUNNER, OK, exit_code=0),
    ]
    assert len(store.dispatch.finish(ends, clock.now())) == 3
    # Then the success saw the streak the deaths of its own transaction made
    assert _kinds(store) == [
        ("dead", "name:nightly", 1),
        ("dead", "name:nightly", 2),
        ("recovered", "name:nightly", 2),
    ]


def test_the_streak_subject_is_the_schedule_then_the_name_then_the_type(
    store: Store, clock: ManualClock
) -> None:
    # Given a failure streak of the type `noop` (jobs with an empty name count by type)
    one = RetryPolicy(max_attempts=1)
    store.jobs.enqueue([job_spec(job_type="noop", name="", retry=one)], clock.now())
    (job,) = store.dispatch.claim(claim(), clock.now())
    store.dispatch.finish([Finish(job.id, job.attempts, RUNNER, DEAD, exit_code=1)], clock.now())
    # When a job of that type fails with a retry left, then one succeeds
    store.jobs.enqueue([job_spec(job_type="noop", retry=RetryPolicy(max_attempts=3))], clock.now())
    (job,) = store.dispatch.claim(claim(), clock.now())
    retry = Decision(State.RETRYING, FailureClass.EXIT, retry_after=clock.now())
    store.dispatch.finish([Finish(job.id, job.attempts, RUNNER, retry, exit_code=1)], clock.now())
    clock.advance(1)
    (job,) = store.dispatch.claim(claim(), clock.now())
    store.dispatch.finish([Finish(job.id, job.attempts, RUNNER, OK, exit_code=0)], clock.now())
    # Then the retry counted the type's streak (1 + 1), and the success ended it
    assert _kinds(store) == [
        ("dead", "type:noop", 1),
        ("failed", "type:noop", 2),
        ("recovered", "type:noop", 1),
    ]


def test_each_finish_of_a_tick_ends_its_own_attempt_row(store: Store, clock: ManualClock) -> None:
    store.jobs.enqueue([job_spec(retry=RetryPolicy(max_attempts=2)) for _ in range(3)], clock.now())
    a, b, c = store.dispatch.claim(claim(slots=3), clock.now())
    retry = Decision(State.RETRYING, FailureClass.EXIT, retry_after=clock.now())
    ends = [
        Finish(a.id, a.attempts, RUNNER, OK, exit_code=0, duration=0.5, max_rss=7),
        Finish(b.id, b.attempts, RUNNER, retry, exit_code=2, duration=1.5),
        Finish(c.id, c.attempts, "someone-else:1:y", DEAD, exit_code=3),  # lease lost
    ]
    applied = store.dispatch.finish(ends, clock.now())
    assert [f.job_id for f in applied] == [a.id, b.id]
    (ra,), (rb,), (rc,) = (store.jobs.attempts(j.id) for j in (a, b, c))
    assert (ra.exit_code, ra.duration, ra.max_rss, ra.failure_class) == (0, 0.5, 7, None)
    assert (rb.exit_code, rb.duration, rb.failure_class) == (2, 1.5, "exit")
    assert ra.finished_at == rb.finished_at == clock.now()
    assert rc.finished_at is None and rc.exit_code is None  # not ours to end


def test_a_paused_queue_is_left_out_of_the_claim(store: Store, clock: ManualClock) -> None:
    store.jobs.enqueue([job_spec(queue="held", priority=9), job_spec(queue="open")], clock.now())
    store.queues.set_paused("held", True, clock.now())
    assert [j.queue for j in store.dispatch.claim(claim(slots=2), clock.now())] == ["open"]
    store.queues.set_paused("held", False, clock.now())
    assert [j.queue for j in store.dispatch.claim(claim(slots=2), clock.now())] == ["held"]


def test_a_draining_node_claims_nothing(store: Store, clock: ManualClock) -> None:
    now = clock.now()
    store.nodes.register(NodeInfo("node-a", "host", (), "v", now, now, 3600.0))
    store.jobs.enqueue([job_spec()], clock.now())
    store.nodes.set_draining("node-a", True, False, clock.now())
    assert store.dispatch.claim(claim(), clock.now()) == []
    store.nodes.set_draining("node-a", False, False, clock.now())
    assert len(store.dispatch.claim(claim(), clock.now())) == 1
