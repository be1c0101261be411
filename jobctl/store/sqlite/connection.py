"""Opening a SQLite WAL database, transactions, and turning driver errors into JobctlErrors."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from jobctl.errors import NotFound, StoreError, Unavailable
from jobctl.paths import create_file, make_dirs
from jobctl.store.sqlite.schema import (
    JOBCTL_TABLES,
    SCHEMA_VERSION,
    migrations_after,
    statements,
)

BUSY_TIMEOUT_MS = 10_000
# How long a read waits for a DB file that another command may be creating at this moment
# (the first commands on a new host, started together): only when its directory exists.
APPEAR_GRACE_S = 1.5


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
    if "file is not a database" in low:
        return StoreError(f"not a jobctl database: {path} (not an SQLite file)")
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


def connect(path: Path, synchronous: str = "FULL", create: bool = True) -> sqlite3.Connection:
    """Open the jobctl database at `path`, with busy timeout and pragmas.

    With `create` (commands that write), a missing DB and its directory are created (root-only
    as root, and so are the -wal and -shm files SQLite creates with the DB's mode), the DB is
    put in WAL mode and an older schema is migrated. Without it (commands that only read),
    nothing about the file changes: a missing file is NotFound ("no jobctl database at
    PATH"), an empty one (a DB another process is creating right now) reads as a new DB with
    nothing in it yet, and a schema older than this jobctl's is refused, not migrated.
    Either way a SQLite file without jobctl's schema is refused unchanged (StoreError "not a
    jobctl database"), before anything is written to it."""
    if path.is_dir():
        raise StoreError(f"cannot open database {path}: it is a directory")
    if not create and not _exists_soon(path):
        raise NotFound(f"no jobctl database at {path}")
    if create:
        try:
            make_dirs(path.parent)
        except OSError as exc:
            raise StoreError(f"cannot create the directory {path.parent}: {exc.strerror}") from None
        try:
            create_file(path)
        except OSError as exc:
            raise StoreError(f"cannot create database {path}: {exc.strerror}") from None
    uri = f"{path.absolute().as_uri()}?mode={'rwc' if create else 'rw'}"
    with wrap_errors(path):
        conn = sqlite3.connect(
            uri,
            uri=True,
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            kind = schema_kind(conn)
            if kind == "foreign":
                raise StoreError(f"not a jobctl database: {path} (refused: it is left unchanged)")
            if not create and kind == "empty":
                conn.close()
                return _new_in_memory()
            if create and conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                _retry_busy(lambda: conn.execute("PRAGMA journal_mode = WAL"))
            conn.execute(f"PRAGMA synchronous = {synchronous}")
            if synchronous == "NORMAL":  # the daemon: fewer, larger checkpoints per commit
                conn.execute("PRAGMA wal_autocheckpoint = 4000")
            conn.execute("PRAGMA foreign_keys = ON")
            if create:
                _migrate(conn)
            else:
                _require_current(conn, path)
        except BaseException:
            conn.close()
            raise
    return conn


def _exists_soon(path: Path) -> bool:
    """Whether the DB file exists, or appears within APPEAR_GRACE_S (a write command started
    with this read creates it); False at once when its directory does not exist."""
    if path.exists():
        return True
    if not path.parent.is_dir():
        return False
    deadline = time.monotonic() + APPEAR_GRACE_S
    while time.monotonic() < deadline:
        time.sleep(0.02)
        if path.exists():
            return True
    return False


def _new_in_memory() -> sqlite3.Connection:
    """What a read sees in an empty file: a new DB of this jobctl's schema, with nothing in
    it (in memory: the file is not written)."""
    conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    _migrate(conn)
    return conn


def schema_kind(conn: sqlite3.Connection) -> str:
    """`empty` (a new or 0-byte file: nothing in it yet), `jobctl` (jobctl's tables and a
    schema version), or `foreign` (anything else: another application's database). Both are
    read in one snapshot: a creator committing its schema in between would look foreign."""
    conn.execute("BEGIN")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    finally:
        conn.execute("COMMIT")
    if not names and version == 0:
        return "empty"
    return "jobctl" if version > 0 and names >= JOBCTL_TABLES else "foreign"


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


def _too_new(version: int) -> StoreError:
    return StoreError(
        f"database schema version {version} is newer than this jobctl knows "
        f"({SCHEMA_VERSION}): upgrade jobctl"
    )


def _require_current(conn: sqlite3.Connection, path: Path) -> None:
    """A read opens only this jobctl's schema: it never migrates (an older jobctl daemon may
    still be serving the DB)."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise _too_new(version)
    if version < SCHEMA_VERSION:
        raise StoreError(
            f"database {path} has schema version {version}, older than this jobctl's"
            f" ({SCHEMA_VERSION}): a command that writes (or the daemon, when it starts)"
            " migrates it"
        )


def _migrate(conn: sqlite3.Connection) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise _too_new(version)
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
