"""SQLite transactions for the shared repos: `BEGIN IMMEDIATE` writes (one writer at a time
serialises everything, so `serialise` has nothing to add), deferred-read snapshots, and
driver errors turned into JobctlErrors naming the file."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from jobctl.store.database import Conflict
from jobctl.store.sqlite.connection import connect, wrap_errors


class SQLiteConn:
    """SQL inside one SQLite transaction (the `Conn` of store/database.py)."""

    kind = "sqlite"
    __slots__ = ("raw",)

    def __init__(self, raw: sqlite3.Connection) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        try:
            return self.raw.execute(sql, params)
        except sqlite3.IntegrityError as exc:
            raise Conflict(str(exc)) from exc

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        try:
            self.raw.executemany(sql, rows)
        except sqlite3.IntegrityError as exc:
            raise Conflict(str(exc)) from exc

    def insert_ids(self, sql: str, rows: Sequence[Sequence[Any]]) -> list[int]:
        if not rows:
            return []
        if len(rows) == 1:
            row_id = self.execute(sql, rows[0]).lastrowid
            assert row_id is not None
            return [row_id]
        self.executemany(sql, rows)
        last = self.raw.execute("SELECT last_insert_rowid()").fetchone()[0]
        first = last - len(rows) + 1
        # Under the write lock new rowids are max+1, so the batch is one range; make sure.
        table = sql.split("INTO", 1)[1].split()[0]
        count = self.raw.execute(
            f"SELECT count(*) FROM {table} WHERE rowid BETWEEN ? AND ?", (first, last)
        ).fetchone()[0]
        if count != len(rows):
            raise sqlite3.DatabaseError("bulk insert: the new ids are not one range")
        return list(range(first, last + 1))

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        """SAVEPOINT … RELEASE; ROLLBACK TO it on an error in the block."""
        self.raw.execute("SAVEPOINT part")
        try:
            yield
        except BaseException:
            self.raw.execute("ROLLBACK TO SAVEPOINT part")
            self.raw.execute("RELEASE SAVEPOINT part")
            raise
        self.raw.execute("RELEASE SAVEPOINT part")

    def serialise(self, *keys: str) -> None:
        """Nothing to do: BEGIN IMMEDIATE already excludes every other writer."""

    def notify(self, topic: str) -> None:
        """Nothing to do: a commit changes PRAGMA data_version, which the change feed reads."""


class SQLiteDatabase:
    """One connection and its transactions (the `Database` of store/database.py). Not
    thread-safe: one per thread."""

    kind = "sqlite"

    def __init__(self, path: Path, synchronous: str = "FULL", create: bool = True) -> None:
        self.path = path
        self.raw = connect(path, synchronous, create)
        self._conn = SQLiteConn(self.raw)
        self.commits = 0  # write transactions committed

    @contextlib.contextmanager
    def write(self) -> Iterator[SQLiteConn]:
        """A write transaction (BEGIN IMMEDIATE): committed on success, rolled back on error."""
        with wrap_errors(self.path):
            self.raw.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self.raw.execute("ROLLBACK")
                raise
            self.raw.execute("COMMIT")
            self.commits += 1

    @contextlib.contextmanager
    def read(self) -> Iterator[SQLiteConn]:
        """A consistent read snapshot (deferred transaction)."""
        with wrap_errors(self.path):
            self.raw.execute("BEGIN")
            try:
                yield self._conn
            finally:
                self.raw.execute("COMMIT")

    def quick_check(self, tables: Sequence[str]) -> list[str]:
        """`PRAGMA quick_check` of the schema and the given small tables."""
        problems: list[str] = []
        with self.read() as conn:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            for table in tables:
                for (line,) in conn.execute(f"PRAGMA quick_check({table})"):
                    if line != "ok":
                        problems.append(f"{table}: {line}")
        return problems

    def data_version(self) -> int:
        """Changes whenever another connection commits (a cheap change detector)."""
        with wrap_errors(self.path):
            return self.raw.execute("PRAGMA data_version").fetchone()[0]

    def set_synchronous(self, mode: str) -> None:
        with wrap_errors(self.path):
            self.raw.execute(f"PRAGMA synchronous = {mode}")

    def close(self) -> None:
        self.raw.close()
