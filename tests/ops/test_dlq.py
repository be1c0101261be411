"""DLQ replay and purge over a real SQLite store, time injected."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jobctl.domain.failure import Decision
from jobctl.domain.job import FailureClass, State
from jobctl.domain.retry import RetryPolicy
from jobctl.errors import InvalidInput, NotFound
from jobctl.ops import dlq
from jobctl.store import Store
from jobctl.store.repos.dispatch import Finish
from tests.support.clock import ManualClock
from tests.support.factories import claim, job_spec


def dead_job(store: Store, clock: ManualClock, **fields: object) -> int:
    """A job that died on its only attempt, with its DLQ entry."""
    fields.setdefault("retry", RetryPolicy(max_attempts=1))
    job_id = store.jobs.enqueue([job_spec(**fields)], clock.now())[0].id
    store.dispatch.claim(claim(), clock.now())
    decision = Decision(State.DEAD, FailureClass.EXIT, to_dlq=True)
    store.dispatch.finish([Finish(job_id, 1, "node-a:1:x", decision, exit_code=3)], clock.now())
    return job_id


def entry_of(store: Store, job_id: int) -> int:
    entry_id = store.jobs.get(job_id).dlq_id
    assert entry_id is not None
    return entry_id


def test_replay_creates_a_new_job_from_the_dead_jobs_spec_linked_both_ways(
    store: Store, clock: ManualClock
) -> None:
    # Given a dead job with a payload, queue and options
    policy = RetryPolicy(max_attempts=1, base=3, max=9)
    job_id = dead_job(
        store, clock, command=["echo", "hi"], payload={"n": 1}, queue="bulk", priority=5,
        timeout=7.0, tenant="t1", env={"A": "1"}, retry=policy,
    )  # fmt: skip
    entry = entry_of(store, job_id)
    clock.advance(60)
    # When its entry is replayed
    (item,) = dlq.replay(store, dlq.ReplayRequest(ids=(entry,)), clock.now())
    # Then a new queued job does the same, with a fresh budget, linked both ways
    assert item.skipped is None and item.job_id not in (None, job_id)
    new = store.jobs.get(item.job_id)
    assert (new.command, new.payload, new.queue, new.priority, new.timeout, new.tenant) == (
        ["echo", "hi"], {"n": 1}, "bulk", 5, 7.0, "t1",
    )  # fmt: skip
    assert (new.state, new.attempts, new.env, new.retry) == (State.QUEUED, 0, {"A": "1"}, policy)
    assert new.created_at == clock.now()
    assert store.dlq.get(entry).replayed_job_id == new.id
    assert store.dlq.replay_of(new.id) == entry
    assert store.jobs.get(job_id).state is State.DEAD


def test_replay_is_idempotent_unless_again(store: Store, clock: ManualClock) -> None:
    entry = entry_of(store, dead_job(store, clock))
    (first,) = dlq.replay(store, dlq.ReplayRequest(ids=(entry,)), clock.now())
    (second,) = dlq.replay(store, dlq.ReplayRequest(ids=(entry,)), clock.now())
    assert second.job_id is None and "already replayed" in (second.skipped or "")
    assert store.dlq.get(entry).replayed_job_id == first.job_id
    (third,) = dlq.replay(store, dlq.ReplayRequest(ids=(entry,), again=True), clock.now())
    assert third.job_id not in (None, first.job_id)
    assert store.dlq.get(entry).replayed_job_id == third.job_id


def test_replay_all_skips_replayed_entries_and_filters(store: Store, clock: ManualClock) -> None:
    a = entry_of(store, dead_job(store, clock, queue="a"))
    clock.advance(3600)
    b = entry_of(store, dead_job(store, clock, queue="b"))
    dlq.replay(store, dlq.ReplayRequest(ids=(a,)), clock.now())
    items = dlq.replay(store, dlq.ReplayRequest(all=True), clock.now())
    assert [i.entry.id for i in items] == [b]
    # --since keeps only entries newer than the cutoff; --queue filters by queue
    since = clock.now() - timedelta(minutes=5)
    request = dlq.ReplayRequest(all=True, again=True, since=since, dry_run=True)
    assert [i.entry.id for i in dlq.replay(store, request, clock.now())] == [b]
    request = dlq.ReplayRequest(all=True, again=True, queue="a", dry_run=True)
    assert [i.entry.id for i in dlq.replay(store, request, clock.now())] == [a]


def test_dry_run_writes_nothing(store: Store, clock: ManualClock) -> None:
    entry = entry_of(store, dead_job(store, clock))
    before = len(store.jobs.list(clock.now()))
    (item,) = dlq.replay(store, dlq.ReplayRequest(ids=(entry,), dry_run=True), clock.now())
    assert item.skipped is None and item.job_id is None
    assert dlq.replay_shape(item, True)["action"] == "would_replay"
    assert len(store.jobs.list(clock.now())) == before
    assert store.dlq.get(entry).replayed_job_id is None


def test_an_entry_whose_key_is_held_by_a_live_job_is_skipped(
    store: Store, clock: ManualClock
) -> None:
    entry = entry_of(store, dead_job(store, clock, key="k1"))
    live = store.jobs.enqueue([job_spec(key="k1")], clock.now())[0].id
    (item,) = dlq.replay(store, dlq.ReplayRequest(ids=(entry,)), clock.now())
    assert item.job_id is None and item.skipped == f"key 'k1' is held by live job {live}"
    assert store.dlq.get(entry).replayed_job_id is None
    assert [j.id for j in store.jobs.list(clock.now(), ["queued"])] == [live]


def test_an_unknown_id_fails_before_anything_is_replayed(store: Store, clock: ManualClock) -> None:
    entry = entry_of(store, dead_job(store, clock))
    with pytest.raises(NotFound, match="999"):
        dlq.replay(store, dlq.ReplayRequest(ids=(entry, 999)), clock.now())
    assert store.dlq.get(entry).replayed_job_id is None


@pytest.mark.parametrize(
    "request_",
    [
        dlq.ReplayRequest(),
        dlq.ReplayRequest(ids=(1,), all=True),
        dlq.ReplayRequest(ids=(1,), queue="q"),
    ],
)
def test_replay_needs_ids_or_all(request_: dlq.ReplayRequest) -> None:
    with pytest.raises(InvalidInput):
        dlq.selection(request_)


def test_purge_by_age_keeps_newer_entries_and_unlinks_dead_jobs(
    store: Store, clock: ManualClock
) -> None:
    old_job = dead_job(store, clock)
    old = entry_of(store, old_job)
    clock.advance(2 * 86400)
    new = entry_of(store, dead_job(store, clock))
    assert dlq.purge(store, clock.now() - timedelta(days=1)) == 1
    assert [e.id for e in store.dlq.list()] == [new]
    assert store.jobs.get(old_job).dlq_id is None
    with pytest.raises(NotFound, match=str(old)):
        dlq.replay(store, dlq.ReplayRequest(ids=(old,)), clock.now())
    assert dlq.purge(store, None) == 1
    assert store.dlq.list() == []
