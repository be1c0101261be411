"""Bulk enqueue's executemany path and `list --since` without a created_at index."""

from __future__ import annotations

from datetime import timedelta

from jobctl.domain.job import State
from jobctl.store import Store
from jobctl.store.records import spec_row
from jobctl.store.repos.jobs import first_id_since
from tests.support.clock import ManualClock
from tests.support.factories import job_spec


def test_bulk_mixes_plain_keyed_and_dependent_specs_in_order(
    store: Store, clock: ManualClock
) -> None:
    held = store.jobs.enqueue([job_spec(key="k")], clock.now())[0].id
    specs = [
        job_spec(["echo", "1"]),
        job_spec(["echo", "2"], payload={"n": 2}),
        job_spec(key="k"),
        job_spec(["echo", "3"]),
        job_spec(depends_on=(held,)),
        job_spec(["echo", "4"], env={"A": "b"}),
    ]
    done = store.jobs.enqueue(specs, clock.now())
    assert [d.created for d in done] == [True, True, False, True, True, True]
    assert done[2].id == held
    new_ids = [d.id for d in done if d.created]
    assert new_ids == list(range(held + 1, held + 6))
    jobs = [store.jobs.get(i) for i in new_ids]
    assert [j.command for j in jobs[:3]] == [["echo", "1"], ["echo", "2"], ["echo", "3"]]
    assert jobs[1].payload == {"n": 2}
    assert (jobs[3].state, jobs[3].depends_on) == (State.WAITING, (held,))
    assert jobs[4].env == {"A": "b"}
    assert all(j.state is State.QUEUED for j in jobs if not j.depends_on)


def test_spec_row_names_every_column_of_the_insert(clock: ManualClock) -> None:
    row = spec_row(job_spec(["true"], run_at=clock.now() + timedelta(seconds=5)), clock.now())
    assert row["command"] == '["true"]'
    assert row["run_at"] - row["created_at"] == 5


def test_list_since_finds_the_range_across_id_gaps(store: Store, clock: ManualClock) -> None:
    ids = []
    for _ in range(40):
        ids.append(store.jobs.enqueue([job_spec()], clock.now())[0].id)
        clock.advance(600)
    with store.db.write() as conn:  # gaps in the ids, as a purge leaves them
        conn.execute("DELETE FROM jobs WHERE id % 3 = 0")
    kept = [i for i in ids if i % 3]
    since = clock.now() - timedelta(seconds=600 * 10)
    got = [j.id for j in store.jobs.list(clock.now(), since=since, limit=1000)]
    assert got == sorted((i for i in kept if i > ids[-11]), reverse=True)
    assert store.jobs.list(clock.now(), since=clock.now()) == []


def test_list_since_tolerates_a_slightly_late_clock(store: Store, clock: ManualClock) -> None:
    early = store.jobs.enqueue([job_spec()], clock.now())[0].id
    clock.advance(3600)
    recent = store.jobs.enqueue([job_spec()], clock.now())[0].id
    late = clock.now() - timedelta(seconds=120)  # an enqueuer whose clock is behind
    store.jobs.enqueue([job_spec(), job_spec(), job_spec()], late)
    got = [j.id for j in store.jobs.list(clock.now(), since=clock.now() - timedelta(seconds=30))]
    assert got == [recent]
    assert early not in [j.id for j in store.jobs.list(clock.now(), since=late)]


def test_first_id_since_on_an_empty_table(store: Store) -> None:
    with store.db.read() as conn:
        assert first_id_since(conn, 0.0) == 0
