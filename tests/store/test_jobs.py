"""The jobs store against a real SQLite file; time is always passed in."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from jobctl.domain.failure import Decision, Ending, decide
from jobctl.domain.job import FailureClass, State
from jobctl.domain.retry import RetryPolicy
from jobctl.errors import InvalidInput, JobctlError, NotFound
from jobctl.store import Store
from jobctl.store.database import Conflict
from jobctl.store.repos.dispatch import Finish
from tests.support.clock import ManualClock
from tests.support.factories import claim, dead_job, job_spec


def _ids(store: Store, clock: ManualClock, **kw: object) -> list[int]:
    return [j.id for j in store.dispatch.claim(claim(**kw), clock.now())]


def _succeed(store: Store, clock: ManualClock, job_id: int, runner: str = "node-a:1:x") -> None:
    job = store.jobs.get(job_id)
    store.dispatch.finish(
        [Finish(job_id, job.attempts, runner, Decision(State.SUCCEEDED, None), exit_code=0)],
        clock.now(),
    )


def test_enqueue_then_get_round_trips_every_field(store: Store, clock: ManualClock) -> None:
    spec = job_spec(
        ["echo", "hi"],
        payload={"a": [1, 2]},
        queue="q",
        name="n",
        priority=3,
        key="k",
        ordering_key="o",
        tenant="t",
        env={"A": "1"},
        cwd="/tmp",
        timeout=5.0,
    )
    (entry,) = store.jobs.enqueue([spec], clock.now())
    job = store.jobs.get(entry.id)
    assert entry.created
    assert (job.command, job.payload, job.queue, job.name, job.priority) == (
        ["echo", "hi"],
        {"a": [1, 2]},
        "q",
        "n",
        3,
    )
    assert (job.key, job.ordering_key, job.tenant, job.env, job.cwd, job.timeout) == (
        "k",
        "o",
        "t",
        {"A": "1"},
        "/tmp",
        5.0,
    )
    assert job.state is State.QUEUED and job.run_at == clock.now() == job.created_at


def test_unknown_id_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound, match="42"):
        store.jobs.get(42)


def test_claim_takes_priority_then_due_time_then_order(store: Store, clock: ManualClock) -> None:
    low = store.jobs.enqueue([job_spec()], clock.now())[0].id
    high = store.jobs.enqueue([job_spec(priority=5)], clock.now())[0].id
    later = store.jobs.enqueue([job_spec(run_at=clock.now() + timedelta(minutes=1))], clock.now())[
        0
    ].id
    assert _ids(store, clock, slots=5) == [high, low]
    clock.advance(61)
    assert _ids(store, clock, slots=5) == [later]


def test_claim_marks_running_with_a_lease_and_an_attempt(store: Store, clock: ManualClock) -> None:
    job_id = store.jobs.enqueue([job_spec()], clock.now())[0].id
    (job,) = store.dispatch.claim(claim(lease=30), clock.now())
    assert (job.id, job.state, job.attempts) == (job_id, State.RUNNING, 1)
    assert job.lease_expires_at == clock.now() + timedelta(seconds=30)
    assert [a.attempt for a in store.jobs.attempts(job_id)] == [1]
    assert _ids(store, clock) == [], "a running job is not claimed twice"


def test_two_connections_never_claim_the_same_job(db_path, clock: ManualClock) -> None:
    from jobctl.store import open_store

    a, b = open_store(str(db_path)), open_store(str(db_path))
    try:
        a.jobs.enqueue([job_spec() for _ in range(50)], clock.now())
        got_a = [j.id for j in a.dispatch.claim(claim(30, runner="a:1:x"), clock.now())]
        got_b = [j.id for j in b.dispatch.claim(claim(30, runner="b:1:x"), clock.now())]
        assert len(got_a) == 30 and len(got_b) == 20
        assert not set(got_a) & set(got_b)
    finally:
        a.close()
        b.close()


def test_paused_queue_and_queue_filter_are_respected(store: Store, clock: ManualClock) -> None:
    held = store.jobs.enqueue([job_spec(queue="held")], clock.now())[0].id
    other = store.jobs.enqueue([job_spec(queue="other")], clock.now())[0].id
    store.queues.set_paused("held", True, clock.now())
    assert _ids(store, clock, slots=5, queues=frozenset({"held"})) == []
    assert _ids(store, clock, slots=5) == [other]
    store.queues.set_paused("held", False, clock.now())
    assert _ids(store, clock, slots=5) == [held]


def test_queue_concurrency_limit_is_global(store: Store, clock: ManualClock) -> None:
    store.jobs.enqueue([job_spec(queue="q") for _ in range(5)], clock.now())
    assert len(_ids(store, clock, slots=5, limits={"q": 2})) == 2
    assert _ids(store, clock, slots=5, runner="other:2:y", limits={"q": 2}) == []


def test_ordering_key_runs_one_at_a_time_in_order(store: Store, clock: ManualClock) -> None:
    ids = [
        e.id
        for e in store.jobs.enqueue([job_spec(ordering_key="k") for _ in range(3)], clock.now())
    ]
    assert _ids(store, clock, slots=5) == [ids[0]]
    assert _ids(store, clock, slots=5) == []
    _succeed(store, clock, ids[0])
    assert _ids(store, clock, slots=5) == [ids[1]]


def test_idempotency_key_returns_the_live_job(store: Store, clock: ManualClock) -> None:
    first = store.jobs.enqueue([job_spec(key="k")], clock.now())[0]
    again = store.jobs.enqueue([job_spec(key="k")], clock.now())[0]
    assert again.id == first.id and not again.created
    store.jobs.cancel([first.id], clock.now(), "test")
    third = store.jobs.enqueue([job_spec(key="k")], clock.now())[0]
    assert third.created and third.id != first.id


def test_live_key_is_unique_in_the_schema(store: Store, clock: ManualClock) -> None:
    store.jobs.enqueue([job_spec(key="k")], clock.now())
    with pytest.raises(Conflict), store.db.write() as conn:
        conn.execute(
            "INSERT INTO jobs (queue, state, run_at, created_at, max_attempts, backoff,"
            " backoff_base, backoff_max, jitter, key) VALUES"
            " ('default', 'queued', 0, 0, 1, 'fixed', 1, 1, 'none', 'k')"
        )


def test_dependencies_wait_then_release(store: Store, clock: ManualClock) -> None:
    a = store.jobs.enqueue([job_spec()], clock.now())[0].id
    b = store.jobs.enqueue([job_spec(depends_on=(a,))], clock.now())[0].id
    assert store.jobs.get(b).state is State.WAITING
    assert store.jobs.get(b).depends_on == (a,)
    assert _ids(store, clock, slots=5) == [a]
    _succeed(store, clock, a)
    assert store.jobs.get(b).state is State.QUEUED
    assert _ids(store, clock, slots=5) == [b]


def test_dead_dependency_cascades_cancel(store: Store, clock: ManualClock) -> None:
    a = store.jobs.enqueue([job_spec()], clock.now())[0].id
    b = store.jobs.enqueue([job_spec(depends_on=(a,))], clock.now())[0].id
    c = store.jobs.enqueue([job_spec(depends_on=(b,))], clock.now())[0].id
    store.jobs.cancel([a], clock.now(), "test")
    assert store.jobs.get(b).state is State.CANCELLED
    assert store.jobs.get(c).state is State.CANCELLED


def test_unknown_dependency_is_invalid_and_writes_nothing(store: Store, clock: ManualClock) -> None:
    with pytest.raises(InvalidInput, match="999"):
        store.jobs.enqueue([job_spec(), job_spec(depends_on=(999,))], clock.now())
    assert store.jobs.list(clock.now()) == []


def test_failure_retries_then_dies_into_the_dlq(store: Store, clock: ManualClock) -> None:
    policy = RetryPolicy(max_attempts=2, base=10, max=10)
    job_id = store.jobs.enqueue([job_spec(retry=policy, payload={"x": 1})], clock.now())[0].id
    rng = random.Random(1)
    for _attempt in (1, 2):
        clock.advance(11)
        (job,) = store.dispatch.claim(claim(), clock.now())
        decision = decide(Ending(exit_code=3), job.attempts_in_budget, policy, clock.now(), rng)
        store.dispatch.finish(
            [
                Finish(
                    job_id,
                    job.attempts,
                    "node-a:1:x",
                    decision,
                    exit_code=3,
                    error="exited with code 3",
                    output_tail="boom",
                )
            ],
            clock.now(),
        )
    job = store.jobs.get(job_id)
    assert (job.state, job.attempts, job.failure_class) == (State.DEAD, 2, "exit")
    (entry,) = store.dlq.list()
    assert (entry.id, entry.job_id, entry.payload, entry.output_tail) == (
        job.dlq_id,
        job_id,
        {"x": 1},
        "boom",
    )


def test_a_finish_after_the_lease_was_lost_is_discarded(store: Store, clock: ManualClock) -> None:
    job_id = store.jobs.enqueue([job_spec()], clock.now())[0].id
    store.dispatch.claim(claim(runner="a:1:x"), clock.now())
    late = Finish(job_id, 1, "someone-else", Decision(State.SUCCEEDED, None))
    assert store.dispatch.finish([late], clock.now()) == []
    assert store.jobs.get(job_id).state is State.RUNNING


def test_expired_leases_are_found_only_after_expiry(store: Store, clock: ManualClock) -> None:
    job_id = store.jobs.enqueue([job_spec()], clock.now())[0].id
    store.dispatch.claim(claim(lease=30), clock.now())
    clock.advance(29)
    assert store.dispatch.expired(clock.now()) == []
    clock.advance(2)
    (expired,) = store.dispatch.expired(clock.now())
    assert expired.job.id == job_id


def test_renewed_lease_does_not_expire(store: Store, clock: ManualClock) -> None:
    job_id = store.jobs.enqueue([job_spec()], clock.now())[0].id
    store.dispatch.claim(claim(lease=30), clock.now())
    clock.advance(20)
    store.dispatch.renew_leases("node-a:1:x", [job_id], clock.now() + timedelta(seconds=30))
    clock.advance(20)
    assert store.dispatch.expired(clock.now()) == []


def test_requeue_gives_the_attempt_back(store: Store, clock: ManualClock) -> None:
    job_id = store.jobs.enqueue([job_spec()], clock.now())[0].id
    store.dispatch.claim(claim(), clock.now())
    assert store.dispatch.requeue(job_id, 1, "node-a:1:x", clock.now(), "stopping")
    job = store.jobs.get(job_id)
    assert (job.state, job.attempts) == (State.QUEUED, 0)
    assert store.jobs.attempts(job_id) == []


def test_cancel_running_is_a_request(store: Store, clock: ManualClock) -> None:
    job_id = store.jobs.enqueue([job_spec()], clock.now())[0].id
    store.dispatch.claim(claim(), clock.now())
    (result,) = store.jobs.cancel([job_id], clock.now(), "op")
    assert result.outcome == "requested"
    assert store.dispatch.cancel_requested("node-a:1:x") == [job_id]


def test_cancel_of_a_finished_job_is_an_error(store: Store, clock: ManualClock) -> None:
    job_id = store.jobs.enqueue([job_spec()], clock.now())[0].id
    store.jobs.cancel([job_id], clock.now(), "op")
    with pytest.raises(JobctlError, match="already cancelled"):
        store.jobs.cancel([job_id], clock.now(), "op")


def test_retry_gives_a_fresh_budget_and_keeps_history(store: Store, clock: ManualClock) -> None:
    job_id = store.jobs.enqueue([job_spec(retry=RetryPolicy(max_attempts=1))], clock.now())[0].id
    (job,) = store.dispatch.claim(claim(), clock.now())
    store.dispatch.finish(
        [Finish(job_id, 1, "node-a:1:x", Decision(State.DEAD, FailureClass.EXIT, to_dlq=True))],
        clock.now(),
    )
    store.jobs.retry([job_id], clock.now())
    job = store.jobs.get(job_id)
    assert (job.state, job.attempts, job.attempts_in_budget) == (State.QUEUED, 1, 0)
    (job,) = store.dispatch.claim(claim(), clock.now())
    assert job.attempts == 2
    assert [a.attempt for a in store.jobs.attempts(job_id)] == [1, 2]


def test_retry_skips_a_job_whose_key_a_live_job_holds_and_retries_the_rest(
    store: Store, clock: ManualClock
) -> None:
    # Given a dead job whose key a live job now holds, and a cancelled job without a key
    dead = dead_job(store, clock.now(), key="k")
    holder = store.jobs.enqueue([job_spec(key="k")], clock.now())[0].id
    other = store.jobs.enqueue([job_spec()], clock.now())[0].id
    store.jobs.cancel([other], clock.now(), "op")
    # When both are retried in one call
    results = store.jobs.retry([dead, other], clock.now())
    # Then the keyed one is skipped with the reason, the other is retried
    assert [(r.id, r.skipped) for r in results] == [
        (dead, f"key 'k' is held by live job {holder}"),
        (other, None),
    ]
    assert (store.jobs.get(dead).state, store.jobs.get(other).state) == (State.DEAD, State.QUEUED)


def test_retry_of_two_dead_jobs_with_one_key_retries_the_first_only(
    store: Store, clock: ManualClock
) -> None:
    first, second = dead_job(store, clock.now(), key="z"), dead_job(store, clock.now(), key="z")
    results = store.jobs.retry([first, second], clock.now())
    assert [(r.id, r.skipped) for r in results] == [
        (first, None),
        (second, f"key 'z' is held by live job {first}"),
    ]


def test_list_filters(store: Store, clock: ManualClock) -> None:
    a = store.jobs.enqueue([job_spec(queue="x")], clock.now())[0].id
    b = store.jobs.enqueue([job_spec(run_at=clock.now() + timedelta(hours=1))], clock.now())[0].id
    assert [j.id for j in store.jobs.list(clock.now(), queue="x")] == [a]
    assert [j.id for j in store.jobs.list(clock.now(), states=["scheduled"])] == [b]
    assert [j.id for j in store.jobs.list(clock.now(), limit=1)] == [b]


def test_status_figures(store: Store, clock: ManualClock) -> None:
    store.jobs.enqueue([job_spec(), job_spec()], clock.now())
    store.jobs.enqueue([job_spec(run_at=clock.now() + timedelta(hours=1))], clock.now())
    clock.advance(5)
    fig = store.stats.queue_figures(clock.now())["default"]
    assert (fig.ready, fig.scheduled, fig.running, fig.dead) == (2, 1, 0, 0)
    assert clock.now().timestamp() - fig.oldest_ready_at == pytest.approx(5)
