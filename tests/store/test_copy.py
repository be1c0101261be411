"""store/copy.py: the tables `db copy` moves (every table of both schemas, parents first),
rows streamed in batches, and the all-or-nothing copy between backends."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest

from jobctl.errors import InvalidInput, NotFound
from jobctl.store import is_postgres, open_store
from jobctl.store.copy import BATCH_ROWS, NOT_COPIED, TABLES, copy_database, open_source
from tests.support.factories import job_spec
from tests.support.pg import PgServer, require


def _schema_tables(url: str) -> set[str]:
    if is_postgres(url):
        with psycopg.connect(url) as conn:
            rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'jobctl'")
            return {r[0] for r in rows}
    with sqlite3.connect(url) as conn:
        rows = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
        return {r[0] for r in rows}


def _foreign_keys(url: str) -> list[tuple[str, str]]:
    """(child, parent) of every foreign key."""
    if is_postgres(url):
        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint"
                " WHERE contype = 'f' AND connamespace = 'jobctl'::regnamespace"
            )
            return [(c.removeprefix("jobctl."), p.removeprefix("jobctl.")) for c, p in rows]
    with sqlite3.connect(url) as conn:
        return [
            (table, row[2])
            for table in _schema_tables(url)
            for row in conn.execute(f"PRAGMA foreign_key_list({table})")
        ]


def test_db_copy_knows_every_table_of_the_schema(db_url: str) -> None:
    """A migration that adds a table must say whether `db copy` moves it: this fails, naming
    the table, until it is in TABLES (in dependency order) or NOT_COPIED (with the reason)."""
    open_store(db_url).close()
    tables = _schema_tables(db_url)
    forgotten = sorted(tables - set(TABLES) - set(NOT_COPIED))
    assert not forgotten, (
        f"db copy does not know the table(s) {forgotten}: add each to TABLES in"
        " jobctl/store/copy.py (parents before children) or to NOT_COPIED with the reason"
    )
    gone = sorted(set(TABLES) - tables)
    assert not gone, f"TABLES in jobctl/store/copy.py names tables the schema lacks: {gone}"


def test_db_copy_writes_parents_before_children(db_url: str) -> None:
    open_store(db_url).close()
    for child, parent in _foreign_keys(db_url):
        assert TABLES.index(parent) < TABLES.index(child), f"{parent} must come before {child}"


def test_rows_stream_in_batches_from_a_server_side_cursor(db_url: str) -> None:
    # Given more jobs than one batch holds
    store = open_store(db_url)
    store.jobs.enqueue([job_spec() for _ in range(BATCH_ROWS * 2 + 7)], store.now())
    store.close()
    # When the source streams them
    with open_source(db_url) as source:
        columns, batches = source.stream("jobs", BATCH_ROWS)
        first = next(batches)
        if is_postgres(db_url):  # Then PostgreSQL keeps the rest on the server meanwhile
            raw: Any = source.raw  # type: ignore[attr-defined]
            assert raw.execute("SELECT count(*) FROM pg_cursors").fetchone()[0] == 1
        sizes = [len(first)] + [len(b) for b in batches]
    # Then in batches of at most BATCH_ROWS, columns named by the cursor
    assert sizes == [BATCH_ROWS, BATCH_ROWS, 7]
    assert {"id", "queue", "state", "command"} <= set(columns)


def test_the_same_database_is_invalid_input(db_url: str) -> None:
    open_store(db_url).close()
    with pytest.raises(InvalidInput, match="same database"):
        copy_database(db_url, db_url)


def test_a_missing_source_is_not_found_and_creates_nothing(
    tmp_path: Path, pg_server: PgServer
) -> None:
    require(pg_server)
    bare = pg_server.fresh(migrated=False)
    try:
        for dest in (bare, str(tmp_path / "dest.db")):
            with pytest.raises(NotFound, match="no jobctl database"):
                copy_database(str(tmp_path / "missing.db"), dest)
        assert not (tmp_path / "dest.db").exists()
        with psycopg.connect(bare) as conn:
            assert not conn.execute("SELECT to_regnamespace('jobctl')").fetchone()[0]
        with pytest.raises(NotFound, match="no jobctl database"):
            copy_database(bare, str(tmp_path / "dest.db"))
        assert not (tmp_path / "dest.db").exists()
    finally:
        pg_server.drop(bare)
