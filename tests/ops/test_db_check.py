"""`db check` means one thing on both backends: integrity, the schema version and the
invariants between jobctl's tables, each broken one reported with the ids that break it."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from jobctl.errors import NotFound
from jobctl.ops.backup import check
from jobctl.store import Store, open_store
from tests.support.factories import claim, dead_job, job_spec
from tests.support.pg import PgServer, require


def _sql(store: Store, *statements: str) -> None:
    with store.db.write() as conn:
        for statement in statements:
            conn.execute(statement)


@pytest.fixture
def lived_in(store: Store) -> dict[str, int]:
    """A store with a dead job in the DLQ, a running one, and a finished one."""
    now = store.now()
    dead = dead_job(store, now)
    (running,) = store.jobs.enqueue([job_spec(priority=10)], now)
    store.jobs.enqueue([job_spec()], now)
    store.dispatch.claim(claim(lease=600), now)
    return {"dead": dead, "running": running.id}


def test_a_database_in_use_is_sound(db_url: str, lived_in: dict[str, int]) -> None:
    report = check(db_url)
    assert report.ok, report.problems
    assert report.invariants == ["ok"] and report.schema_version == report.expected_version


BREAKS = {
    "lease": ("UPDATE jobs SET lease_owner = NULL WHERE id = {running}",
              "1 running job(s) without a lease owner: {running}"),
    "attempt": ("DELETE FROM attempts WHERE job_id = {running}",
                "1 running job(s) without an open attempt: {running}"),
    "beyond": ("UPDATE attempts SET attempt = 7 WHERE job_id = {dead}",
               "1 job(s) with an attempt numbered beyond the job's attempts: {dead}"),
    "dlq_id": ("UPDATE jobs SET dlq_id = 999 WHERE id = {dead}",
               "1 job(s) whose dlq_id names no DLQ entry: {dead}"),
    "dlq_job": ("UPDATE dlq SET job_id = 4242",
                "1 DLQ entr(ies) of jobs that do not exist (entry ids): 1"),
    "fire": ("INSERT INTO fires (schedule, nominal_at, handled_at, outcome, job_id)"
             " VALUES ('gone', 1, 1, 'enqueued', 777)",
             "1 schedule fire(s) naming a job beyond the newest job (job ids): 777"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BREAKS))
def test_each_broken_invariant_is_a_problem_naming_ids(
    db_url: str, store: Store, lived_in: dict[str, int], case: str
) -> None:
    # Given one invariant broken behind jobctl's back
    statement, finding = BREAKS[case]
    _sql(store, statement.format(**lived_in))
    # When checked: not ok, and the finding names the ids
    report = check(db_url)
    assert not report.ok
    assert f"invariant: {finding.format(**lived_in)}" in report.problems, report.problems


def test_a_fire_whose_job_retention_removed_is_no_problem(db_url: str, store: Store) -> None:
    now = store.now()
    (gone,) = store.jobs.enqueue([job_spec()], now)
    store.jobs.enqueue([job_spec()], now)
    _sql(
        store,
        "INSERT INTO fires (schedule, nominal_at, handled_at, outcome, job_id)"
        f" VALUES ('nightly', 1, 1, 'enqueued', {gone.id})",
        f"DELETE FROM jobs WHERE id = {gone.id}",
    )
    assert check(db_url).ok


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[Store]:
    s = open_store(pg_url)
    yield s
    s.close()


def test_a_postgres_sequence_behind_its_ids_is_a_problem(pg_url: str, pg_store: Store) -> None:
    pg_store.jobs.enqueue([job_spec() for _ in range(3)], pg_store.now())
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("SELECT setval(pg_get_serial_sequence('jobctl.jobs', 'id'), 2)")
    report = check(pg_url)
    assert (
        "invariant: the jobs id sequence would give 3, but ids reach 3: the next insert would fail"
        in report.problems
    ), report.problems


def test_an_invalid_postgres_index_is_an_integrity_problem(pg_url: str, pg_store: Store) -> None:
    # Given a unique index whose concurrent build failed (duplicates): left invalid
    pg_store.jobs.enqueue([job_spec(), job_spec()], pg_store.now())
    with psycopg.connect(pg_url, autocommit=True) as conn, pytest.raises(psycopg.Error):
        conn.execute("CREATE UNIQUE INDEX CONCURRENTLY jobs_by_queue ON jobctl.jobs (queue)")
    report = check(pg_url)
    assert "integrity_check: index jobs_by_queue is invalid: REINDEX it" in report.problems


def test_a_postgres_database_without_jobctl_is_not_found(pg_server: PgServer) -> None:
    require(pg_server)
    bare = pg_server.fresh(migrated=False)
    try:
        with pytest.raises(NotFound, match="no jobctl database"):
            check(bare)
    finally:
        pg_server.drop(bare)
