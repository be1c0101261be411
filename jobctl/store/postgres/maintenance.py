"""`db backup` and `db check` on PostgreSQL: a backup is one REPEATABLE READ snapshot copied
into a new SQLite file (which `db copy` restores); a check reads the schema version, the
tables, the indexes, the id sequences and the invariants in one snapshot. Neither creates
nor migrates anything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

from jobctl.errors import NotFound, StoreError
from jobctl.store import invariants
from jobctl.store.copy import TABLES, new_sqlite_snapshot
from jobctl.store.maintenance import Copied, Integrity
from jobctl.store.postgres.connection import PgConn, PgUrl, connect, describe, one, parse_url
from jobctl.store.postgres.schema import SCHEMA_VERSION, current_version


def backup(url: str, dest: Path) -> Copied:
    """The schema at `url`, read in one snapshot, as the new SQLite file `dest` (replaced
    once complete)."""
    copied, pages = new_sqlite_snapshot(url, dest)
    return Copied(dest, pages, dest.stat().st_size, copied["jobs"])


def check(url: str) -> Integrity:
    pg = parse_url(url)
    raw = connect(pg)
    try:
        try:
            version = current_version(raw, pg.schema)
        except StoreError:  # the schema holds other tables: not jobctl's
            return Integrity(pg.display, ["ok"], ["ok"], None, SCHEMA_VERSION, False, [])
        if version is None:
            raise NotFound(f"no jobctl database at {pg.display} (schema {pg.schema!r})")
        raw.execute(
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;"
            f' SET LOCAL search_path TO "{pg.schema}"'
        )
        missing = [t for t in TABLES if not _exists(raw, pg.schema, t)]
        quick = [f"table {t} is missing" for t in missing] or ["ok"]
        integrity = _invalid_indexes(raw, pg.schema) or ["ok"]
        found = [] if missing else _invariants(raw, pg)
        raw.execute("COMMIT")
    except psycopg.Error as exc:
        raise describe(exc, pg.display) from exc
    finally:
        raw.close()
    return Integrity(pg.display, integrity, quick, version, SCHEMA_VERSION, True, found)


def _invariants(raw: psycopg.Connection[Any], pg: PgUrl) -> list[str]:
    raw.execute("SAVEPOINT invariants")
    try:
        return invariants.broken(PgConn(raw, pg)) + _ids_behind(raw, pg) or ["ok"]
    except psycopg.Error as exc:  # e.g. an older schema that lacks a column
        raw.execute("ROLLBACK TO SAVEPOINT invariants")
        return [f"could not run: {' '.join(str(exc).split())}"]


def _exists(raw: psycopg.Connection[Any], schema: str, table: str) -> bool:
    found = raw.execute(
        "SELECT to_regclass(format('%%I.%%I', %s::text, %s::text)) IS NOT NULL", (schema, table)
    )
    return bool(one(found)[0])


def _invalid_indexes(raw: psycopg.Connection[Any], schema: str) -> list[str]:
    """Indexes an interrupted CREATE INDEX CONCURRENTLY (or a failed REINDEX) left unusable."""
    rows = raw.execute(
        "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s"
        " AND NOT (i.indisvalid AND i.indisready AND i.indislive) ORDER BY 1",
        (schema,),
    ).fetchall()
    return [f"index {r[0]} is invalid: REINDEX it" for r in rows]


def _ids_behind(raw: psycopg.Connection[Any], pg: PgUrl) -> list[str]:
    """Identity sequences that would hand out an id already taken."""
    found = []
    identities = raw.execute(
        "SELECT table_name, column_name,"
        " pg_get_serial_sequence(format('%%I.%%I', table_schema, table_name), column_name)"
        " FROM information_schema.columns WHERE table_schema = %s AND is_identity = 'YES'"
        " ORDER BY 1",
        (pg.schema,),
    ).fetchall()
    for table, column, sequence in identities:
        last, called = one(raw.execute(f"SELECT last_value, is_called FROM {sequence}"))
        highest = one(raw.execute(f'SELECT max("{column}") FROM "{table}"'))[0]
        following = last + 1 if called else last
        if highest is not None and following <= highest:
            found.append(
                f"the {table} id sequence would give {following}, but ids reach {highest}:"
                " the next insert would fail"
            )
    return found
