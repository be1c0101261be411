"""Group commit for enqueues (issue 16), on both backends: a group is one transaction with
a savepoint per enqueue; GroupCommit makes the enqueues that wait while one is written share
the next commit; a lone enqueue goes at once."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from jobctl.domain.audit import AuditEntry
from jobctl.domain.queues import Backpressure, Shed
from jobctl.errors import InvalidInput, Unavailable
from jobctl.store import is_postgres, open_store
from jobctl.store.group_commit import GroupCommit
from jobctl.store.protocol import Store
from jobctl.store.repos.jobs import Enqueued
from tests.support.factories import job_spec
from tests.support.waiting import wait_until

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def entry(request_id: str = "r") -> AuditEntry:
    return AuditEntry(NOW, "alice", 1000, "h", request_id, "job.enqueue", None, {})


def test_a_group_writes_each_enqueue_on_its_own(store: Store) -> None:
    first = store.jobs.enqueue([job_spec(["true"])], NOW)[0].id
    outcomes = store.jobs.enqueue_group(
        [
            ([job_spec(["a"])], NOW, None, entry(request_id="ra")),
            ([job_spec(["b"], depends_on=(first + 999,))], NOW, None, entry(request_id="rb")),
            ([job_spec(["c"], key="k")], NOW, None, None),
            ([job_spec(["d"], key="k")], NOW, None, None),  # sees c's job: the key is held
            ([job_spec(["e"]), job_spec(["f"])], NOW, None, None),
        ]
    )
    a, bad, c, d, ef = outcomes
    assert isinstance(bad, InvalidInput) and "unknown job id" in str(bad)
    assert isinstance(a, list) and isinstance(c, list) and isinstance(ef, list)
    assert isinstance(d, list) and d == [Enqueued(c[0].id, False)]
    assert c[0].created and [e.created for e in ef] == [True, True]
    commands = [store.jobs.get(i.id).command for i in (*a, *c, *ef)]
    assert commands == [["a"], ["c"], ["e"], ["f"]]
    jobs = store.jobs.list(NOW, limit=100)
    assert sorted(j.command[0] for j in jobs if j.command) == ["a", "c", "e", "f", "true"]
    audited = [e.request_id for e in store.audit.list()]
    assert audited == ["ra"]  # b was rolled back with its audit entry


def test_a_group_of_plain_enqueues_keeps_each_ones_jobs_time_and_audit(store: Store) -> None:
    """Enqueues with nothing to refuse (no key, dependency, gang or backpressure) are
    written together: each still gets its own jobs (in order), created_at and audit entry."""
    later = NOW + timedelta(seconds=5)
    outcomes = store.jobs.enqueue_group(
        [
            ([job_spec(["a"])], NOW, None, entry(request_id="ra")),
            ([job_spec(["b"]), job_spec(["c"])], later, {}, entry(request_id="rbc")),
            ([job_spec(["d"])], NOW, None, None),
        ]
    )
    assert all(isinstance(o, list) for o in outcomes)
    a, bc, d = (o for o in outcomes if isinstance(o, list))
    assert [len(a), len(bc), len(d)] == [1, 2, 1]
    assert all(e.created for e in (*a, *bc, *d))
    ids = [e.id for e in (*a, *bc, *d)]
    assert ids == sorted(ids) and len(set(ids)) == 4
    jobs = [store.jobs.get(i) for i in ids]
    assert [j.command for j in jobs] == [["a"], ["b"], ["c"], ["d"]]
    assert [j.created_at for j in jobs] == [NOW, later, later, NOW]
    targets = {e.request_id: e.target for e in store.audit.list()}
    assert set(targets) == {"ra", "rbc"}
    assert str(ids[0]) in str(targets["ra"])
    assert all(str(i) in str(targets["rbc"]) for i in ids[1:3])


def test_a_rejecting_queue_fails_only_the_enqueue_over_its_limit(store: Store) -> None:
    guard = {"small": Backpressure("small", 1, Shed.REJECT)}
    outcomes = store.jobs.enqueue_group(
        [
            ([job_spec(["a"], queue="small")], NOW, guard, None),
            ([job_spec(["b"], queue="small")], NOW, guard, None),  # depth 1: refused
            ([job_spec(["c"], queue="other")], NOW, guard, None),
        ]
    )
    assert isinstance(outcomes[1], Unavailable)
    assert isinstance(outcomes[0], list) and isinstance(outcomes[2], list)
    assert sorted(j.command[0] for j in store.jobs.list(NOW) if j.command) == ["a", "c"]


@contextlib.contextmanager
def writes_blocked(db_url: str, db_path_or_url: str) -> Iterator[None]:
    """Hold the jobs table against every writer until the block ends: SQLite's write lock,
    PostgreSQL's EXCLUSIVE lock on jobs (inserts wait for it)."""
    if is_postgres(db_url):
        with psycopg.connect(db_url.split("?")[0], autocommit=True) as raw:
            raw.execute("BEGIN")
            raw.execute("LOCK TABLE jobctl.jobs IN EXCLUSIVE MODE")
            try:
                yield
            finally:
                raw.execute("ROLLBACK")
    else:
        raw = sqlite3.connect(db_path_or_url, isolation_level=None)
        raw.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            raw.execute("ROLLBACK")
            raw.close()


class PerThread:
    """A store per thread, as the HTTP workers and a shared Client have."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.local = threading.local()
        self.stores: list[Store] = []

    def __call__(self) -> Store:
        if getattr(self.local, "store", None) is None:
            self.local.store = open_store(self.url)
            self.stores.append(self.local.store)
        return self.local.store  # type: ignore[no-any-return]

    def close(self) -> None:
        for s in self.stores:
            s.close()


def test_enqueues_waiting_on_a_commit_share_the_next_one(db_url: str, store: Store) -> None:
    stores = PerThread(db_url)
    group = GroupCommit(stores)
    results: dict[str, object] = {}

    def enqueue(name: str, **kw: object) -> None:
        try:
            results[name] = group.enqueue([job_spec([name], **kw)], NOW, audit=entry())
        except Exception as exc:
            results[name] = exc

    threads = {}
    try:
        with writes_blocked(db_url, db_url):
            threads["lead"] = threading.Thread(target=enqueue, args=("lead",))
            threads["lead"].start()  # leads alone, and waits for the lock
            wait_until(lambda: group._leading, 10, 0.01, "a leader writing")
            for name, kw in (("a", {}), ("bad", {"depends_on": (999_999,)}), ("b", {})):
                threads[name] = threading.Thread(target=enqueue, args=(name,), kwargs=kw)
                threads[name].start()
            wait_until(lambda: group.waiting == 3, 10, 0.01, "three enqueues queued")
            assert group.commits == 0 and results == {}
        for t in threads.values():
            t.join(30)
    finally:
        stores.close()
    assert isinstance(results["bad"], InvalidInput)
    for name in ("lead", "a", "b"):
        done = results[name]
        assert isinstance(done, list) and done[0].created, (name, done)
        assert store.jobs.get(done[0].id).command == [name]
    assert (group.commits, group.enqueues, group.largest) == (2, 4, 3)


def test_a_lone_enqueue_is_its_own_commit(db_url: str, store: Store) -> None:
    stores = PerThread(db_url)
    group = GroupCommit(stores)
    try:
        ids = [group.enqueue([job_spec(["x"])], NOW)[0].id for _ in range(3)]
        with pytest.raises(InvalidInput):
            group.enqueue([job_spec(["y"], depends_on=(999_999,))], NOW)
    finally:
        stores.close()
    assert len(set(ids)) == 3 and (group.commits, group.enqueues, group.largest) == (4, 4, 1)
