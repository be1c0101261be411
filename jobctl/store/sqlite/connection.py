"""Opening a SQLite WAL database, transactions, and turning driver errors into JobctlErrors."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from jobctl.errors import StoreError, Unavailable
from jobctl.paths import create_file, make_dirs
from jobctl.store.sqlite.schema import SCHEMA_VERSION, migrations_after, statements

BUSY_TIMEOUT_MS = 10_000


def _describe(exc: sqlite3.Error, path: Path) -> Exception:
    text = str(exc)
    low = text.lower()
    if "locked" in low or "busy" in low:
        return Unavailable(
            f"database {path} is busy (locked by another process beyond the timeout)"
        )
    if "readonly" in low or "read-only" in low:
        return StoreError(f"database {path} is read-only: check its permissions")
    if "unable to open" in low:
        return StoreError(f"cannot open database {path}: check the path and its permissions")
    if "malformed" in low or "not a database" in low:
        return StoreError(f"database {path} is corrupt or not a jobctl database: {text}")
    if "disk" in low and "full" in low:
        return StoreError(f"database {path}: disk full")
    return StoreError(f"database {path}: {text}")


@contextlib.contextmanager
def wrap_errors(path: Path) -> Iterator[None]:
    """Re-raise sqlite3 errors as Unavailable (busy) or StoreError, naming the DB."""
    try:
        yield
    except sqlite3.IntegrityError:
        raise
    except sqlite3.Error as exc:
        raise _describe(exc, path) from exc


def connect(path: Path, synchronous: str = "FULL") -> sqlite3.Connection:
    """Open (creating the directory and DB if needed: root-only as root, and so are the -wal
    and -shm files SQLite creates with the DB's mode), set WAL and pragmas, migrate."""
    try:
        make_dirs(path.parent)
    except OSError as exc:
        raise StoreError(f"cannot create the directory {path.parent}: {exc.strerror}") from None
    try:
        create_file(path)
    except OSError as exc:
        raise StoreError(f"cannot create database {path}: {exc.strerror}") from None
    with wrap_errors(path):
        conn = sqlite3.connect(
            str(path),
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                _retry_busy(lambda: conn.execute("PRAGMA journal_mode = WAL"))
            conn.execute(f"PRAGMA synchronous = {synchronous}")
            if synchronous == "NORMAL":  # the daemon: fewer, larger checkpoints per commit
                conn.execute("PRAGMA wal_autocheckpoint = 4000")
            conn.execute("PRAGMA foreign_keys = ON")
            _migrate(conn)
        except BaseException:
            conn.close()
            raise
    return conn


def _retry_busy(fn: object, attempts: int = 50) -> object:
    """Run fn, retrying briefly when SQLite reports busy outside the busy handler."""
    for n in range(attempts):
        try:
            return fn()  # type: ignore[operator]
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or n == attempts - 1:
                raise
            time.sleep(min(0.2, 0.005 * 2**n))
    return None


def _migrate(conn: sqlite3.Connection) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"database schema version {version} is newer than this jobctl knows "
            f"({SCHEMA_VERSION}): upgrade jobctl"
        )
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for _number, _name, script in migrations_after(version):
            for statement in statements(script):
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
