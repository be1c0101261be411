"""SQLite's ends of `db copy` (store/copy.py): a source read in one snapshot, and a sink that
is either an existing (empty) jobctl file written in one transaction, or a new file built
next to its place and renamed into it only once complete."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from jobctl.errors import Refused, StoreError
from jobctl.paths import make_dirs
from jobctl.store.sqlite.connection import wrap_errors
from jobctl.store.sqlite.database import SQLiteConn, SQLiteDatabase


def _quoted(columns: Sequence[str]) -> str:
    return ", ".join('"' + c.replace('"', '""') + '"' for c in columns)


class SQLiteSource:
    def __init__(self, db: SQLiteDatabase) -> None:
        self.db = db
        self.where = str(db.path)

    def count(self, table: str) -> int:
        return self.db.raw.execute(f"SELECT count(*) FROM {table}").fetchone()[0]

    def stream(self, table: str, size: int) -> tuple[list[str], Iterator[Sequence[Any]]]:
        cursor = self.db.raw.cursor()
        cursor.row_factory = None  # plain tuples
        cursor.execute(f"SELECT * FROM {table}")
        columns = [d[0] for d in cursor.description]

        def batches() -> Iterator[Sequence[Any]]:
            with wrap_errors(self.db.path):
                while rows := cursor.fetchmany(size):
                    yield rows

        return columns, batches()


@contextlib.contextmanager
def source(path: Path) -> Iterator[SQLiteSource]:
    """The existing jobctl database at `path` in one read snapshot (never migrated)."""
    db = SQLiteDatabase(path, create=False)
    try:
        with db.read():
            yield SQLiteSource(db)
    finally:
        db.close()


class SQLiteSink:
    pages = 0  # the file's size in pages, once a new file is complete

    def __init__(self, db: SQLiteDatabase, where: Path) -> None:
        self.db = db
        self.where = str(where)
        self.conn = SQLiteConn(db.raw)

    def load(self, table: str, columns: Sequence[str], rows: Sequence[Any]) -> None:
        marks = ", ".join("?" * len(columns))
        try:
            self.db.raw.executemany(
                f"INSERT INTO {table} ({_quoted(columns)}) VALUES ({marks})", rows
            )
        except sqlite3.IntegrityError as exc:  # a source that breaks its own constraints
            raise StoreError(f"db copy: a row of {table} was refused: {exc}") from None

    def advance_ids(self) -> None:
        """Nothing to do: a new row's INTEGER PRIMARY KEY is one past the highest."""


@contextlib.contextmanager
def existing_file(path: Path) -> Iterator[SQLiteSink]:
    """The jobctl database at `path` (an older schema is migrated first) in one write
    transaction: other writers wait; an error rolls it all back."""
    db = SQLiteDatabase(path)
    try:
        with db.write():
            yield SQLiteSink(db, path)
    finally:
        db.close()


@contextlib.contextmanager
def new_file(path: Path, replace: bool) -> Iterator[SQLiteSink]:
    """A new jobctl database built in a file next to `path` and moved into place once its
    transaction committed and it passed quick_check, as one self-contained file (rollback
    journal, no -wal). An existing `path` is replaced with `replace`, else Refused; an error
    leaves `path` as it was."""
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        make_dirs(path.parent)
    except OSError as exc:
        raise StoreError(f"cannot create the directory {path.parent}: {exc.strerror}") from None
    try:
        db = SQLiteDatabase(tmp, synchronous="OFF")  # made durable by one fsync at the end
        try:
            with wrap_errors(tmp):
                db.raw.execute("PRAGMA journal_mode = DELETE")
            sink = SQLiteSink(db, path)
            with db.write():
                yield sink
            with wrap_errors(tmp):
                check = db.raw.execute("PRAGMA quick_check").fetchone()[0]
                sink.pages = db.raw.execute("PRAGMA page_count").fetchone()[0]
        finally:
            db.close()
        seal(tmp, path, check, replace)
    finally:
        for leftover in (tmp, Path(f"{tmp}-journal")):
            with contextlib.suppress(OSError):
                leftover.unlink()


def seal(tmp: Path, path: Path, check: str, replace: bool) -> None:
    """Put the complete file `tmp` at `path` durably, once its quick_check said `ok`: over
    an existing `path` with `replace`, else only where none is (Refused)."""
    if check != "ok":
        raise StoreError(f"the copy {path} failed its quick_check: {check}")
    with open(tmp, "rb+") as handle:
        os.fsync(handle.fileno())
    if replace:
        os.replace(tmp, path)
    else:
        try:
            os.link(tmp, path)  # fails rather than replace a file that appeared meanwhile
        except FileExistsError:
            raise Refused(f"db copy: {path} appeared while copying: nothing copied") from None
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
