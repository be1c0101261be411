"""Opening the store: a write creates and migrates; a read (`create=False`) opens only an
existing jobctl DB as it is; a SQLite file that is not jobctl's is refused, unchanged."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from jobctl.errors import NotFound, StoreError
from jobctl.store import open_store
from jobctl.store.sqlite.connection import schema_kind
from jobctl.store.sqlite.schema import SCHEMA_VERSION, migrations_after, statements
from tests.support.clock import ManualClock


def _app_db(path: Path) -> str:
    """Another application's SQLite file (rollback journal, its own tables); its digest."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO users (name) VALUES ('ada')")
    conn.close()
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("create", [True, False])
def test_an_applications_sqlite_file_is_refused_and_left_unchanged(
    tmp_path: Path, create: bool
) -> None:
    # Given an application's own SQLite file
    app = tmp_path / "app.db"
    digest = _app_db(app)
    # When jobctl is pointed at it (a write or a read)
    with pytest.raises(StoreError, match=f"not a jobctl database: {app}"):
        open_store(str(app), create=create)
    # Then it is refused, and the file is byte for byte what it was (no WAL, no tables)
    assert hashlib.sha256(app.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.db"]


def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database, just some text that is long enough to have a header\n" * 9)
    with pytest.raises(StoreError, match=f"not a jobctl database: {notes}"):
        open_store(str(notes))
    assert notes.read_text().startswith("not a database")


def test_a_read_never_creates_the_db_or_its_directory(tmp_path: Path) -> None:
    missing = tmp_path / "typo" / "jobctl.db"
    with pytest.raises(NotFound, match=f"no jobctl database at {missing}$"):
        open_store(str(missing), create=False)
    assert not missing.parent.exists()


def test_an_empty_file_reads_as_a_new_db_and_a_write_makes_it_one(
    tmp_path: Path, clock: ManualClock
) -> None:
    # Given an empty file (as a DB another process is creating right now looks)
    empty = tmp_path / "jobctl.db"
    empty.touch()
    # When a read opens it: a new DB with nothing in it, and the file is not written
    store = open_store(str(empty), create=False)
    assert store.jobs.list(clock.now()) == [] and store.locks.held(clock.now()) == []
    store.close()
    assert empty.stat().st_size == 0
    # When a write opens it: it becomes a jobctl DB
    open_store(str(empty)).close()
    assert empty.stat().st_size > 0
    open_store(str(empty), create=False).close()


def test_a_read_racing_the_creators_commit_never_takes_the_db_for_a_foreign_one(
    tmp_path: Path,
) -> None:
    # Given a creator whose schema is written but not yet committed
    path = tmp_path / "jobctl.db"
    creator = sqlite3.connect(path, isolation_level=None)
    creator.execute("PRAGMA journal_mode = WAL")
    creator.execute("BEGIN IMMEDIATE")
    for _number, _name, script in migrations_after(0):
        for statement in statements(script):
            creator.execute(statement)
    creator.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    # When it commits between the reader's look at the version and at the tables
    reader = sqlite3.connect(path, isolation_level=None)

    def commit_midway(sql: str) -> None:
        if "sqlite_master" in sql and creator.in_transaction:
            creator.execute("COMMIT")

    reader.set_trace_callback(commit_midway)
    # Then the reader saw one state (still empty), not a mix that looks like another app's DB
    assert schema_kind(reader) == "empty"
    reader.set_trace_callback(None)
    assert schema_kind(reader) == "jobctl"
    reader.close()
    creator.close()
