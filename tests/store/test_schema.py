"""Migrations: numbered SQL files, applied in order once; a newer DB is refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from jobctl.errors import StoreError
from jobctl.store import open_store
from jobctl.store.sqlite.schema import MIGRATION_FILES, SCHEMA_VERSION, statements


def test_a_new_db_is_at_the_last_migration(db_path: Path) -> None:
    open_store(str(db_path)).close()
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def _first_migration_only(db_path: Path) -> int:
    """A DB an older jobctl made: migrated to 0001 only, by hand; its version."""
    first_number, first_name = MIGRATION_FILES[0]
    script = (Path(__file__).parents[2] / "jobctl/store/sqlite/migrations" / first_name).read_text()
    with sqlite3.connect(db_path) as conn:
        for statement in statements(script):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {first_number}")
    conn.close()
    return first_number


def test_an_old_db_gets_only_the_newer_migrations(db_path: Path) -> None:
    _first_migration_only(db_path)
    # When jobctl opens it, the rest are applied and the tables of later migrations exist
    open_store(str(db_path)).close()
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"jobs", "schedules", "fires", "audit"} <= tables


def test_a_read_refuses_an_older_schema_rather_than_migrate_it(db_path: Path) -> None:
    # Given a DB an older jobctl made
    first_number = _first_migration_only(db_path)
    # When a read opens it: refused, naming both versions, and left at its version
    older = rf"schema version {first_number}, older .*\({SCHEMA_VERSION}\)"
    with pytest.raises(StoreError, match=older):
        open_store(str(db_path), create=False)
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == first_number
    conn.close()
    # And a write migrates it, after which a read opens it
    open_store(str(db_path)).close()
    open_store(str(db_path), create=False).close()


def test_a_db_from_a_newer_jobctl_is_refused(db_path: Path) -> None:
    open_store(str(db_path)).close()
    with sqlite3.connect(db_path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer than this jobctl"):
        open_store(str(db_path))


def test_statements_keep_semicolons_inside_triggers_and_strings() -> None:
    script = (
        "-- header\nCREATE TABLE t (a TEXT DEFAULT ';');\n"
        "CREATE TRIGGER tr AFTER INSERT ON t BEGIN\n  UPDATE t SET a = 'x;y';\nEND;\n-- tail\n"
    )
    parts = list(statements(script))
    assert len(parts) == 2 and parts[1].endswith("END;")


def test_0010_leaves_shadow_unset_only_where_the_schedule_never_chose(db_path: Path) -> None:
    # Given a DB at 0009 with a CLI schedule (shadow 0), a shadow one and a promoted import
    with sqlite3.connect(db_path) as conn:
        for number, name in MIGRATION_FILES:
            if number > 9:
                break
            script = Path(__file__).parents[2] / "jobctl/store/sqlite/migrations" / name
            for statement in statements(script.read_text()):
                conn.execute(statement)
        conn.execute("PRAGMA user_version = 9")
        for name, shadow, origin in [("cli", 0, "cli"), ("sh", 1, "cli"), ("imp", 0, "import")]:
            conn.execute(
                "INSERT INTO schedules (name, cron, tz, shadow, origin, created_at, updated_at,"
                " cursor_at) VALUES (?, '* * * * *', 'UTC', ?, ?, 0, 0, 0)",
                (name, shadow, origin),
            )
    # When jobctl opens it
    store = open_store(str(db_path))
    try:
        shadows = {s.name: s.shadow for s in store.schedules.list()}
    finally:
        store.close()
    # Then only the CLI schedule that never set shadow follows the config's shadow_mode
    assert shadows == {"cli": None, "sh": True, "imp": False}


def test_migrations_are_numbered_without_gaps_on_both_backends() -> None:
    # A migration numbered below an applied one is never applied to that DB: numbers given out
    # to parallel work must close up before they land.
    from jobctl.store.postgres import schema as pg_schema
    from jobctl.store.sqlite import schema as lite_schema

    for files in (lite_schema.MIGRATION_FILES, pg_schema.MIGRATION_FILES):
        numbers = [number for number, _ in files]
        assert numbers == list(range(1, len(numbers) + 1)), [name for _, name in files]
