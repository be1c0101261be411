"""PostgreSQL's ends of `db copy` (store/copy.py): a source read in one REPEATABLE READ
snapshot through server-side cursors, and a sink that creates the schema if need be, loads
rows with COPY and moves the identity sequences past them, all in one transaction: a copy
that fails or is killed leaves the database as it was (not even the schema is created)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import tuple_row

from jobctl.errors import NotFound, StoreError
from jobctl.store.postgres.connection import PgConn, PgUrl, connect, describe, one, parse_url
from jobctl.store.postgres.schema import SCHEMA_VERSION, current_version, migrate_in_transaction


class PgSource:
    def __init__(self, raw: psycopg.Connection[Any], url: PgUrl) -> None:
        self.raw = raw
        self.where = url.display

    def count(self, table: str) -> int:
        return int(one(self.raw.execute(f"SELECT count(*) FROM {table}"))[0])

    def stream(self, table: str, size: int) -> tuple[list[str], Iterator[Sequence[Any]]]:
        cursor = self.raw.cursor(name=f"jobctl_copy_{table}", row_factory=tuple_row)
        cursor.execute(f"SELECT * FROM {table}")
        columns = [d.name for d in cursor.description or ()]

        def batches() -> Iterator[Sequence[Any]]:
            try:
                while rows := cursor.fetchmany(size):
                    yield rows
            finally:
                cursor.close()

        return columns, batches()


@contextlib.contextmanager
def source(url: str) -> Iterator[PgSource]:
    """The existing jobctl schema at `url` in one REPEATABLE READ READ ONLY snapshot (never
    created or migrated: another version is StoreError, none NotFound)."""
    pg = parse_url(url)
    raw = connect(pg)
    try:
        version = current_version(raw, pg.schema)
        if version is None:
            raise NotFound(f"no jobctl database at {pg.display} (schema {pg.schema!r})")
        if version != SCHEMA_VERSION:
            raise StoreError(
                f"database {pg.display} has schema version {version}, this jobctl"
                f" {SCHEMA_VERSION}: open it with the jobctl it belongs to (or let a command"
                " that writes migrate it) first"
            )
        raw.execute(
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;"
            f' SET LOCAL search_path TO "{pg.schema}"'
        )
        yield PgSource(raw, pg)
        raw.execute("COMMIT")
    except psycopg.Error as exc:
        raise describe(exc, pg.display) from exc
    finally:
        raw.close()


class PgSink:
    def __init__(self, raw: psycopg.Connection[Any], url: PgUrl) -> None:
        self.raw = raw
        self.url = url
        self.where = url.display
        self.conn = PgConn(raw, url)

    def load(self, table: str, columns: Sequence[str], rows: Sequence[Any]) -> None:
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
        )
        try:
            with self.raw.cursor() as cursor, cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
        except psycopg.DataError as exc:  # a value the column's type refuses
            raise StoreError(f"db copy: a row of {table} was refused: {exc}") from None
        except psycopg.IntegrityError as exc:  # a source that breaks its own constraints
            raise StoreError(f"db copy: a row of {table} was refused: {exc}") from None

    def advance_ids(self) -> None:
        """Each identity sequence of the schema restarts one past its column's highest id."""
        identities = self.raw.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = %s AND is_identity = 'YES'",
            (self.url.schema,),
        ).fetchall()
        for table, column in identities:
            self.raw.execute(
                sql.SQL(
                    "SELECT setval(pg_get_serial_sequence({qualified}, {column}),"
                    " coalesce(max({id}), 0) + 1, false) FROM {table}"
                ).format(
                    qualified=sql.Literal(f'"{self.url.schema}"."{table}"'),
                    column=sql.Literal(column),
                    id=sql.Identifier(column),
                    table=sql.Identifier(table),
                )
            )


@contextlib.contextmanager
def sink(url: str, tables: Sequence[str]) -> Iterator[PgSink]:
    """The jobctl schema at `url` (created and migrated inside the transaction) in one
    transaction that locks `tables` against other writers (readers go on); committed with
    a NOTIFY that wakes waiting daemons, or, on any error, never."""
    pg = parse_url(url)
    raw = connect(pg)
    try:
        raw.execute("BEGIN")
        migrate_in_transaction(raw, pg)
        raw.execute(f"LOCK TABLE {', '.join(tables)} IN EXCLUSIVE MODE")
        yield PgSink(raw, pg)
        raw.execute(
            "SELECT pg_notify(%s, 'jobs'), pg_notify(%s, 'schedules')", (pg.channel, pg.channel)
        )
        raw.execute("COMMIT")
    except psycopg.Error as exc:
        raise describe(exc, pg.display) from exc
    finally:
        raw.close()  # without COMMIT the transaction is rolled back
