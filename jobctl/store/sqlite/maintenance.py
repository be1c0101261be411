"""`db backup` and `db check` at the SQLite level: the online backup API and the integrity
pragmas. Both open their own connection and never migrate the database they look at."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from jobctl.errors import NotFound, StoreError
from jobctl.paths import create_file
from jobctl.store import invariants
from jobctl.store.maintenance import Copied, Integrity
from jobctl.store.sqlite.connection import BUSY_TIMEOUT_MS, schema_kind, wrap_errors
from jobctl.store.sqlite.copy import seal
from jobctl.store.sqlite.database import SQLiteConn
from jobctl.store.sqlite.schema import JOBCTL_TABLES, SCHEMA_VERSION


def _open_existing(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise NotFound(f"no jobctl database at {path}")
    with wrap_errors(path):
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


def backup(source: Path, dest: Path) -> Copied:
    """Copy `source` to `dest` with the online backup API, in one step (one read snapshot:
    consistent while other processes write). The copy is written next to `dest` and renamed
    into place only once complete and quick-checked, as a single file (journal_mode DELETE).
    An existing `dest` is replaced (the caller decides whether that is allowed)."""
    tmp = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    src = _open_existing(source)
    try:
        with wrap_errors(source):
            if schema_kind(src) != "jobctl":
                raise StoreError(f"not a jobctl database: {source} (nothing copied)")
        try:
            create_file(tmp)  # a backup holds what the DB holds: root-only as root
            out = sqlite3.connect(str(tmp), isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot write backup {dest}: {exc}") from None
        try:
            with wrap_errors(source):
                src.backup(out)
            with wrap_errors(tmp):
                out.execute("PRAGMA journal_mode = DELETE")
                check = out.execute("PRAGMA quick_check").fetchone()[0]
                pages = out.execute("PRAGMA page_count").fetchone()[0]
                jobs = out.execute("SELECT count(*) FROM jobs").fetchone()[0]
        finally:
            out.close()
        seal(tmp, dest, check, replace=True)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    finally:
        src.close()
    return Copied(dest, pages, dest.stat().st_size, jobs)


def _pragma_rows(conn: sqlite3.Connection, pragma: str) -> list[str]:
    try:
        return [str(r[0]) for r in conn.execute(f"PRAGMA {pragma}")]
    except sqlite3.DatabaseError as exc:
        return [f"{pragma} could not run: {exc}"]


def check(path: Path) -> Integrity:
    """Run integrity_check and quick_check, read the schema version of `path` and check the
    invariants between its tables (store/invariants.py), all in one read snapshot. A file
    that is not a database is reported in the results, not raised."""
    conn = _open_existing(path)
    try:
        with contextlib.suppress(sqlite3.DatabaseError):
            conn.execute("BEGIN")  # one snapshot for all that follows
        integrity = _pragma_rows(conn, "integrity_check")
        quick = _pragma_rows(conn, "quick_check")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        except sqlite3.DatabaseError:
            version, tables = None, set()
        ours = tables >= JOBCTL_TABLES
        found = _invariants(conn) if ours else []
    finally:
        conn.close()
    return Integrity(str(path), integrity, quick, version, SCHEMA_VERSION, ours, found)


def _invariants(conn: sqlite3.Connection) -> list[str]:
    try:
        return invariants.broken(SQLiteConn(conn)) or ["ok"]
    except sqlite3.DatabaseError as exc:
        return [f"could not run: {exc}"]
