"""The PostgreSQL dialect of sweep targets (psycopg 3). Marks live in side tables in the
schema of the swept table: `_jobctl_sweeps` (one progress row per sweep) and one
`_jobctl_sweep_<token>` per sweep holding its keys, typed like the primary key.

Predicates run only in `READ ONLY` transactions on a separate connection, except inside
a run's DELETE (where the tokeniser has refused writing functions and statements). Every
transaction that evaluates one has `SET LOCAL statement_timeout`."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import psycopg

from jobctl.errors import InvalidInput, StoreError, Unavailable
from jobctl.store.targets import (
    STATEMENT_TIMEOUT,
    BatchResult,
    Plan,
    PredicateTimeout,
    TableRef,
    TargetProgress,
    redact_url,
)
from jobctl.store.targets.predicate import check_predicate, quote_ident

CONNECT_TIMEOUT_S = 10
FIND_TABLE = """
SELECT n.nspname, c.relname, c.relkind, c.oid
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname = %(rel)s AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND CASE WHEN %(schema)s::text IS NULL THEN n.nspname = ANY (current_schemas(false))
           ELSE n.nspname = %(schema)s END
ORDER BY array_position(current_schemas(false), n.nspname::text) NULLS LAST
LIMIT 1
"""
PRIMARY_KEY = """
SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod)
FROM pg_catalog.pg_index i
CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k (attnum, ord)
JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indrelid = %s AND i.indisprimary
ORDER BY k.ord
"""


def _message(exc: psycopg.Error) -> str:
    diag = getattr(exc, "diag", None)
    text = (diag.message_primary if diag is not None else None) or str(exc)
    return " ".join(text.split())


class PostgresTarget:
    """A PostgreSQL database as a sweep target."""

    def __init__(self, url: str, statement_timeout: float | None = STATEMENT_TIMEOUT) -> None:
        self.display = redact_url(url)
        self.statement_timeout = statement_timeout
        self._types: dict[tuple[str | None, str], list[str]] = {}
        try:
            self.rw = psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
            self.ro = psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
        except psycopg.Error as exc:
            raise Unavailable(f"cannot connect to target {self.display}: {_message(exc)}") from None

    @contextlib.contextmanager
    def _read(self, predicate: str | None = None) -> Iterator[psycopg.Cursor[Any]]:
        """A READ ONLY transaction; with the statement timeout when it runs `predicate`."""
        try:
            with self.ro.transaction(), self.ro.cursor() as cur:
                cur.execute("SET TRANSACTION READ ONLY")
                self._limit(cur, predicate)
                yield cur
        except psycopg.errors.QueryCanceled as exc:
            raise self._timed_out(predicate, exc) from None
        except psycopg.Error as exc:
            raise StoreError(f"target {self.display}: {_message(exc)}") from exc

    def _limit(self, cur: psycopg.Cursor[Any], predicate: str | None) -> None:
        if predicate is not None and self.statement_timeout is not None:
            ms = max(1, round(self.statement_timeout * 1000))
            cur.execute(f"SET LOCAL statement_timeout = {ms}".encode())

    def _timed_out(self, predicate: str | None, exc: psycopg.Error) -> Exception:
        if predicate is None or self.statement_timeout is None:
            return StoreError(f"target {self.display}: {_message(exc)}")
        return PredicateTimeout(predicate, self.statement_timeout, self.display)

    @contextlib.contextmanager
    def _write(self, predicate: str | None = None) -> Iterator[psycopg.Cursor[Any]]:
        """A write transaction; with the statement timeout when it runs `predicate`."""
        try:
            with self.rw.transaction(), self.rw.cursor() as cur:
                self._limit(cur, predicate)
                yield cur
        except psycopg.errors.QueryCanceled as exc:
            raise self._timed_out(predicate, exc) from None
        except psycopg.errors.LockNotAvailable as exc:
            raise Unavailable(f"target {self.display} is busy: {_message(exc)}") from exc
        except psycopg.Error as exc:
            raise StoreError(f"target {self.display}: {_message(exc)}") from exc

    @staticmethod
    def _qual(schema: str | None, name: str) -> str:
        return (quote_ident(schema) + "." if schema else "") + quote_ident(name)

    def resolve_table(self, name: str) -> TableRef:
        schema, _, rel = name.rpartition(".")
        if rel.lower().startswith("_jobctl_"):
            raise InvalidInput(f"invalid --table {name!r}: an internal table")
        with self._read() as cur:
            row = cur.execute(FIND_TABLE, {"rel": rel, "schema": schema or None}).fetchone()
            if row is None:
                raise InvalidInput(f"unknown --table {name!r}: no such table in {self.display}")
            nsp, real, kind, oid = row
            if kind not in ("r", "p"):
                raise InvalidInput(f"invalid --table {name!r}: not an ordinary table")
            keys = cur.execute(PRIMARY_KEY, (oid,)).fetchall()
        if not keys:
            raise InvalidInput(f"invalid --table {name!r}: it has no primary key")
        self._types[(nsp, real)] = [k[1] for k in keys]
        return TableRef(name=real, schema=nsp, keys=tuple(k[0] for k in keys))

    def check_predicate(self, table: TableRef, predicate: str) -> str:
        text = check_predicate(predicate, "postgres")
        qual = self._qual(table.schema, table.name)
        try:
            with self.ro.transaction(), self.ro.cursor() as cur:
                cur.execute("SET TRANSACTION READ ONLY")
                cur.execute(f"EXPLAIN SELECT 1 FROM {qual} WHERE ({text})".encode())
        except psycopg.Error as exc:
            raise InvalidInput(f"invalid --where {predicate!r}: {_message(exc)}") from None
        return text

    def count_matching(self, table: TableRef, predicate: str) -> int:
        qual = self._qual(table.schema, table.name)
        with self._read(predicate) as cur:
            row = cur.execute(f"SELECT count(*) FROM {qual} WHERE ({predicate})".encode())
            return int(row.fetchone()[0])  # type: ignore[index]

    def _cols(self, table: TableRef) -> str:
        return ", ".join(quote_ident(k) for k in table.keys)

    def sample_matching(self, table: TableRef, predicate: str, limit: int) -> list[dict[str, Any]]:
        qual, cols = self._qual(table.schema, table.name), self._cols(table)
        sql = f"SELECT * FROM {qual} WHERE ({_esc(predicate)}) ORDER BY {cols} LIMIT %s"
        with self._read(predicate) as cur:
            cur.execute(sql.encode(), (limit,))
            names = [d.name for d in cur.description or ()]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def key_chunk(
        self, table: TableRef, predicate: str, after: tuple[Any, ...] | None, size: int
    ) -> list[tuple[Any, ...]]:
        qual, cols = self._qual(table.schema, table.name), self._cols(table)
        where, args = f"({_esc(predicate)})", []
        if after is not None:
            where = f"({cols}) > ({', '.join(['%s'] * len(after))}) AND " + where
            args = list(after)
        sql = f"SELECT {cols} FROM {qual} WHERE {where} ORDER BY {cols} LIMIT %s"
        with self._read(predicate) as cur:
            return [tuple(r) for r in cur.execute(sql.encode(), [*args, size]).fetchall()]

    def _progress_table(self, plan: Plan) -> str:
        return self._qual(plan.table.schema, "_jobctl_sweeps")

    def _marks_table(self, plan: Plan) -> str:
        return self._qual(plan.table.schema, f"_jobctl_sweep_{plan.token}")

    def begin_marks(self, plan: Plan) -> None:
        types = self._types.get((plan.table.schema, plan.table.name))
        if types is None:
            self.resolve_table(self._qual_name(plan.table))
            types = self._types[(plan.table.schema, plan.table.name)]
        columns = ", ".join(f"k{i} {t}" for i, t in enumerate(types))
        with self._write() as cur:
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS {self._progress_table(plan)} (token text PRIMARY KEY,"
                " tbl text NOT NULL, marked bigint NOT NULL DEFAULT 0,"
                " done bigint NOT NULL DEFAULT 0, deleted bigint NOT NULL DEFAULT 0,"
                " skipped bigint NOT NULL DEFAULT 0)"
            )
            cur.execute(
                f"CREATE TABLE {self._marks_table(plan)} (seq bigint PRIMARY KEY, {columns})"
            )
            cur.execute(
                f"INSERT INTO {self._progress_table(plan)} (token, tbl) VALUES (%s, %s)",
                (plan.token, plan.table.name),
            )

    @staticmethod
    def _qual_name(table: TableRef) -> str:
        return f"{table.schema}.{table.name}" if table.schema else table.name

    def append_marks(self, plan: Plan, first_seq: int, keys: list[tuple[Any, ...]]) -> None:
        width = len(plan.table.keys)
        columns = ", ".join(f"k{i}" for i in range(width))
        with self._write() as cur:
            with cur.copy(f"COPY {self._marks_table(plan)} (seq, {columns}) FROM STDIN") as copy:
                for n, key in enumerate(keys):
                    copy.write_row((first_seq + n, *key))
            cur.execute(
                f"UPDATE {self._progress_table(plan)} SET marked = %s WHERE token = %s",
                (first_seq + len(keys) - 1, plan.token),
            )

    def progress(self, plan: Plan) -> TargetProgress | None:
        try:
            with self.ro.transaction(), self.ro.cursor() as cur:
                row = cur.execute(
                    f"SELECT marked, done, deleted, skipped FROM {self._progress_table(plan)}"
                    " WHERE token = %s",
                    (plan.token,),
                ).fetchone()
        except psycopg.errors.UndefinedTable:
            return None
        except psycopg.Error as exc:
            raise StoreError(f"target {self.display}: {_message(exc)}") from exc
        return None if row is None else TargetProgress(*(int(v) for v in row))

    def sweep_batch(self, plan: Plan, limit: int) -> BatchResult:
        qual, cols = self._qual(plan.table.schema, plan.table.name), self._cols(plan.table)
        keys = ", ".join(f"k{i}" for i in range(len(plan.table.keys)))
        marks, progress = self._marks_table(plan), self._progress_table(plan)
        delete = (
            f"DELETE FROM {qual} WHERE ({cols}) IN (SELECT {keys} FROM {marks}"
            f" WHERE seq > %s AND seq <= %s) AND ({_esc(plan.predicate)})"
        )
        with self._write(plan.predicate) as cur:
            row = cur.execute(
                f"SELECT marked, done FROM {progress} WHERE token = %s FOR UPDATE", (plan.token,)
            ).fetchone()
            if row is None:
                raise StoreError(f"the marks of this sweep are gone from {self.display}")
            marked, lo = int(row[0]), int(row[1])
            hi = min(lo + limit, marked)
            if hi <= lo:
                return BatchResult(lo, 0, 0)
            collected = self._before_delete(cur, plan, (lo, hi))
            deleted = cur.execute(delete.encode(), (lo, hi)).rowcount
            files = self._after_delete(cur, plan, (lo, hi), collected)
            cur.execute(f"DELETE FROM {marks} WHERE seq > %s AND seq <= %s", (lo, hi))
            skipped = (hi - lo) - deleted
            cur.execute(
                f"UPDATE {progress} SET done = %s, deleted = deleted + %s,"
                " skipped = skipped + %s WHERE token = %s",
                (hi, deleted, skipped, plan.token),
            )
        return BatchResult(hi, deleted, skipped, files)

    def _before_delete(self, cur: psycopg.Cursor[Any], plan: Plan, span: tuple[int, int]) -> Any:
        """A subclass's look at the batch before its DELETE (same transaction)."""
        return None

    def _after_delete(
        self, cur: psycopg.Cursor[Any], plan: Plan, span: tuple[int, int], collected: Any
    ) -> tuple[str, ...]:
        """A subclass's work after the batch's DELETE (same transaction): files to remove
        once it has committed."""
        return ()

    def drop_marks(self, plan: Plan) -> None:
        exists = self.progress(plan) is not None
        with self._write() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {self._marks_table(plan)}")
            if exists:
                cur.execute(
                    f"DELETE FROM {self._progress_table(plan)} WHERE token = %s", (plan.token,)
                )

    def close(self) -> None:
        self.rw.close()
        self.ro.close()


def _esc(predicate: str) -> str:
    """The predicate inside a query that also has parameters (psycopg reads % there)."""
    return predicate.replace("%", "%%")
