"""The SQLite dialect of sweep targets. Marks live in two side tables inside the target
file (`_jobctl_sweeps`: one progress row per sweep; `_jobctl_sweep_marks`: its keys); the
user's tables and rows are untouched until a run deletes marked rows.

Predicates run on a separate read-only connection (`mode=ro`, `PRAGMA query_only`, and an
authorizer that allows only reads and harmless functions). Every statement that evaluates
one is cut at the statement timeout by a progress handler. The journal mode of the user's
DB is left as it is.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jobctl.clock import SystemClock
from jobctl.errors import InvalidInput, StoreError
from jobctl.store.sqlite.connection import wrap_errors
from jobctl.store.targets import (
    STATEMENT_TIMEOUT,
    BatchResult,
    Plan,
    PredicateTimeout,
    TableRef,
    TargetProgress,
)
from jobctl.store.targets.predicate import DENIED_FUNCTIONS, check_predicate, quote_ident

MAX_KEYS = 8
PROGRESS_STEPS = 10_000  # virtual machine steps between two looks at the deadline
BUSY_TIMEOUT_S = 10.0
ROWID_NAMES = ("rowid", "_rowid_", "oid")
SIDE_TABLES = (
    "CREATE TABLE IF NOT EXISTS _jobctl_sweeps (token TEXT PRIMARY KEY, tbl TEXT NOT NULL,"
    " marked INTEGER NOT NULL DEFAULT 0, done INTEGER NOT NULL DEFAULT 0,"
    " deleted INTEGER NOT NULL DEFAULT 0, skipped INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS _jobctl_sweep_marks (sweep TEXT NOT NULL, seq INTEGER NOT NULL,"
    " k0, k1, k2, k3, k4, k5, k6, k7, PRIMARY KEY (sweep, seq)) WITHOUT ROWID",
)
_ALLOWED = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_RECURSIVE}


def _read_only_authorizer(action: int, arg1: str | None, *_rest: Any) -> int:
    if action in _ALLOWED:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_FUNCTION and (arg1 or "").lower() not in DENIED_FUNCTIONS:
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


def _first(cursor: sqlite3.Cursor) -> Any:
    """The first row, with the statement run to its end: an unfinished read statement
    would hold a SHARED lock and, in rollback-journal mode, block every writer."""
    rows = cursor.fetchall()
    return rows[0] if rows else None


class SQLiteTarget:
    """A SQLite file as a sweep target (it must exist; it is never created)."""

    def __init__(
        self,
        path: Path,
        foreign_keys: bool = False,
        statement_timeout: float | None = STATEMENT_TIMEOUT,
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        self.path = path
        self.display = "sqlite:///" + str(path)
        self.statement_timeout = statement_timeout
        self._monotonic = monotonic or SystemClock().monotonic
        self._columns: dict[str, set[str]] = {}
        if not path.is_file():
            raise InvalidInput(f"target database {str(path)!r} does not exist")
        uri = "file:" + quote(str(path))
        with self._errors():
            self.rw = sqlite3.connect(
                uri + "?mode=rw", uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_S
            )
            self.rw.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            if _first(self.rw.execute("PRAGMA journal_mode"))[0] == "wal":
                # per connection, the user's DB is unchanged: in WAL mode each batch stays
                # atomic and consistent; only the last batches may be redone after a power cut
                self.rw.execute("PRAGMA synchronous = NORMAL")
            if foreign_keys:
                self.rw.execute("PRAGMA foreign_keys = ON")
            self.ro = sqlite3.connect(
                uri + "?mode=ro", uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_S
            )
            self.ro.execute("PRAGMA query_only = ON")
            self.ro.set_authorizer(_read_only_authorizer)

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            with wrap_errors(self.path):
                yield
        except sqlite3.IntegrityError as exc:
            raise StoreError(f"target {self.display}: {exc}") from exc

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._errors():
            self.rw.execute("BEGIN IMMEDIATE")
            try:
                yield self.rw
            except BaseException:
                if self.rw.in_transaction:  # an interrupted DELETE has rolled back already
                    self.rw.execute("ROLLBACK")
                raise
            self.rw.execute("COMMIT")

    @contextlib.contextmanager
    def _timed(self, conn: sqlite3.Connection, predicate: str) -> Iterator[None]:
        """Interrupt a statement of `conn` that runs past the statement timeout."""
        if self.statement_timeout is None:
            yield
            return
        deadline = self._monotonic() + self.statement_timeout
        conn.set_progress_handler(lambda: self._monotonic() > deadline, PROGRESS_STEPS)
        try:
            yield
        except sqlite3.OperationalError as exc:
            if "interrupted" not in str(exc):
                raise
            raise PredicateTimeout(predicate, self.statement_timeout, self.display) from None
        finally:
            conn.set_progress_handler(None, 0)

    def resolve_table(self, name: str) -> TableRef:
        if name.lower().startswith(("sqlite_", "_jobctl_")):
            raise InvalidInput(f"invalid --table {name!r}: an internal table")
        with self._errors():
            row = _first(
                self.ro.execute(
                    "SELECT type, name FROM sqlite_schema WHERE name = ? COLLATE NOCASE"
                    " AND type IN ('table', 'view')",
                    (name,),
                )
            )
        if row is None:
            raise InvalidInput(f"unknown --table {name!r}: no such table in {self.display}")
        if row[0] != "table":
            raise InvalidInput(f"invalid --table {name!r}: a view, not a table")
        real = row[1]
        with self._errors():
            cols = self.rw.execute(f"PRAGMA table_xinfo({quote_ident(real)})").fetchall()
        pk = tuple(c[1] for c in sorted((c for c in cols if c[5]), key=lambda c: c[5]))
        if not pk:
            names = {c[1].lower() for c in cols}
            free = next((r for r in ROWID_NAMES if r not in names), None)
            if free is None:
                raise InvalidInput(f"invalid --table {name!r}: no primary key and no rowid")
            pk = (free,)
        if len(pk) > MAX_KEYS:
            raise InvalidInput(f"invalid --table {name!r}: more than {MAX_KEYS} key columns")
        return TableRef(name=real, schema=None, keys=pk)

    def _cols(self, table: TableRef) -> list[str]:
        """The key columns as SQL: quoted names, or the bare rowid."""
        if table.name not in self._columns:
            with self._errors():
                rows = self.rw.execute(f"PRAGMA table_xinfo({quote_ident(table.name)})")
                self._columns[table.name] = {r[1].lower() for r in rows.fetchall()}
        columns = self._columns[table.name]
        return [k if k in ROWID_NAMES and k not in columns else quote_ident(k) for k in table.keys]

    def check_predicate(self, table: TableRef, predicate: str) -> str:
        text = check_predicate(predicate, "sqlite")
        try:
            self.ro.execute(
                f"EXPLAIN SELECT 1 FROM {quote_ident(table.name)} WHERE ({text})"
            ).fetchall()
        except sqlite3.Error as exc:
            raise InvalidInput(f"invalid --where {predicate!r}: {exc}") from None
        return text

    def count_matching(self, table: TableRef, predicate: str) -> int:
        with self._errors(), self._timed(self.ro, predicate):
            sql = f"SELECT count(*) FROM {quote_ident(table.name)} WHERE ({predicate})"
            return int(_first(self.ro.execute(sql))[0])

    def sample_matching(self, table: TableRef, predicate: str, limit: int) -> list[dict[str, Any]]:
        cols = self._cols(table)
        with self._errors(), self._timed(self.ro, predicate):
            cur = self.ro.execute(
                f"SELECT {', '.join(cols)}, * FROM {quote_ident(table.name)} WHERE ({predicate})"
                f" ORDER BY {', '.join(cols)} LIMIT ?",
                (limit,),
            )
            names = [d[0] for d in cur.description][len(cols) :]
            return [dict(zip(names, row[len(cols) :], strict=True)) for row in cur.fetchall()]

    def key_chunk(
        self, table: TableRef, predicate: str, after: tuple[Any, ...] | None, size: int
    ) -> list[tuple[Any, ...]]:
        cols = self._cols(table)
        listed = ", ".join(cols)
        where, args = f"({predicate})", []
        if after is not None:
            marks = ", ".join("?" * len(after))
            where = f"({listed}) > ({marks}) AND " + where
            args = list(after)
        with self._errors(), self._timed(self.ro, predicate):
            rows = self.ro.execute(
                f"SELECT {listed} FROM {quote_ident(table.name)} WHERE {where}"
                f" ORDER BY {listed} LIMIT ?",
                [*args, size],
            ).fetchall()
        return [tuple(r) for r in rows]

    def begin_marks(self, plan: Plan) -> None:
        with self._write() as conn:
            for ddl in SIDE_TABLES:
                conn.execute(ddl)
            conn.execute(
                "INSERT INTO _jobctl_sweeps (token, tbl) VALUES (?, ?)",
                (plan.token, plan.table.name),
            )

    def append_marks(self, plan: Plan, first_seq: int, keys: list[tuple[Any, ...]]) -> None:
        width = len(plan.table.keys)
        columns = ", ".join(f"k{i}" for i in range(width))
        sql = (
            f"INSERT INTO _jobctl_sweep_marks (sweep, seq, {columns}) VALUES (?, ?{', ?' * width})"
        )
        with self._write() as conn:
            conn.executemany(sql, ((plan.token, first_seq + n, *key) for n, key in enumerate(keys)))
            conn.execute(
                "UPDATE _jobctl_sweeps SET marked = ? WHERE token = ?",
                (first_seq + len(keys) - 1, plan.token),
            )

    def progress(self, plan: Plan) -> TargetProgress | None:
        try:
            row = _first(
                self.ro.execute(
                    "SELECT marked, done, deleted, skipped FROM _jobctl_sweeps WHERE token = ?",
                    (plan.token,),
                )
            )
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return None
            raise StoreError(f"target {self.display}: {exc}") from exc
        return None if row is None else TargetProgress(*row)

    def sweep_batch(self, plan: Plan, limit: int) -> BatchResult:
        cols = self._cols(plan.table)
        keys = ", ".join(f"k{i}" for i in range(len(cols)))
        lhs = cols[0] if len(cols) == 1 else "(" + ", ".join(cols) + ")"
        delete = (
            f"DELETE FROM {quote_ident(plan.table.name)} WHERE {lhs} IN (SELECT {keys}"
            " FROM _jobctl_sweep_marks WHERE sweep = ? AND seq > ? AND seq <= ?)"
            f" AND ({plan.predicate})"
        )
        with self._write() as conn:
            row = _first(
                conn.execute(
                    "SELECT marked, done FROM _jobctl_sweeps WHERE token = ?", (plan.token,)
                )
            )
            if row is None:
                raise StoreError(f"the marks of this sweep are gone from {self.display}")
            marked, lo = row
            hi = min(lo + limit, marked)
            if hi <= lo:
                return BatchResult(lo, 0, 0)
            span = (plan.token, lo, hi)
            collected = self._before_delete(conn, plan, span)
            with self._timed(conn, plan.predicate):
                deleted = conn.execute(delete, span).rowcount
            files = self._after_delete(conn, plan, span, collected)
            conn.execute(
                "DELETE FROM _jobctl_sweep_marks WHERE sweep = ? AND seq > ? AND seq <= ?", span
            )
            skipped = (hi - lo) - deleted
            conn.execute(
                "UPDATE _jobctl_sweeps SET done = ?, deleted = deleted + ?,"
                " skipped = skipped + ? WHERE token = ?",
                (hi, deleted, skipped, plan.token),
            )
        return BatchResult(hi, deleted, skipped, files)

    def _before_delete(
        self, conn: sqlite3.Connection, plan: Plan, span: tuple[str, int, int]
    ) -> Any:
        """A subclass's look at the batch before its delete (same transaction)."""
        return None

    def _after_delete(
        self, conn: sqlite3.Connection, plan: Plan, span: tuple[str, int, int], collected: Any
    ) -> tuple[str, ...]:
        """A subclass's follow-up writes after the delete (same transaction)."""
        return ()

    def drop_marks(self, plan: Plan) -> None:
        if self.progress(plan) is None:
            return
        while True:
            with self._write() as conn:
                gone = conn.execute(
                    "DELETE FROM _jobctl_sweep_marks WHERE sweep = ? AND seq IN"
                    " (SELECT seq FROM _jobctl_sweep_marks WHERE sweep = ? LIMIT 5000)",
                    (plan.token, plan.token),
                ).rowcount
                if gone == 0:
                    conn.execute("DELETE FROM _jobctl_sweeps WHERE token = ?", (plan.token,))
                    return

    def close(self) -> None:
        self.rw.close()
        self.ro.close()
