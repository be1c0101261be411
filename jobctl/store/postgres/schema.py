"""Forward migrations of jobctl's schema on PostgreSQL (`migrations/NNNN_name.sql`).

Applied on open, in one transaction under a transaction-scoped advisory lock, so ten daemons
starting at once migrate exactly once (the others wait, then find the work done). The
version lives in `<schema>.schema_version`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import psycopg

from jobctl.errors import NotFound, StoreError
from jobctl.store.postgres.connection import PgUrl, describe, one

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
MIGRATION_FILES = sorted(
    (int(name.split("_", 1)[0]), name)
    for name in os.listdir(MIGRATIONS_DIR)
    if name.endswith(".sql")
)
SCHEMA_VERSION = MIGRATION_FILES[-1][0]
APPEAR_GRACE_S = 1.5  # as on SQLite: a read started with the first write waits for it


def current_version(raw: psycopg.Connection[Any], schema: str) -> int | None:
    """The schema's version; None when the schema does not exist. StoreError when it holds
    tables that are not jobctl's."""
    found = raw.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = %s),"
        " to_regclass(format('%%I.schema_version', %s::text)) IS NOT NULL,"
        " (SELECT count(*) FROM pg_tables WHERE schemaname = %s)",
        (schema, schema, schema),
    )
    has_schema, has_version, tables = one(found)
    if not has_schema:
        return None
    if not has_version:
        if tables:
            raise StoreError(f"schema {schema!r} is not a jobctl database (it has other tables)")
        return 0
    row = one(raw.execute(f'SELECT max(version) FROM "{schema}".schema_version'))
    return int(row[0] or 0)


def _too_new(url: PgUrl, version: int) -> StoreError:
    return StoreError(
        f"database {url.display}: schema version {version} is newer than this jobctl knows"
        f" ({SCHEMA_VERSION}): upgrade jobctl"
    )


def migrate(raw: psycopg.Connection[Any], url: PgUrl, create: bool) -> None:
    """Bring the schema up to SCHEMA_VERSION (creating it when `create`); a missing schema
    without `create` is NotFound, a newer one StoreError."""
    try:
        version = current_version(raw, url.schema)
        if version == SCHEMA_VERSION:
            return
        if version is not None and version > SCHEMA_VERSION:
            raise _too_new(url, version)
        if version is None and not create:
            version = _appeared(raw, url)
            if version == SCHEMA_VERSION:
                return
        raw.execute("BEGIN")
        try:
            migrate_in_transaction(raw, url)
            raw.execute("COMMIT")
        except BaseException:
            if not raw.broken and not raw.closed:
                raw.execute("ROLLBACK")
            raise
    except psycopg.Error as exc:
        raise describe(exc, url.display) from exc


def _appeared(raw: psycopg.Connection[Any], url: PgUrl) -> int:
    """The version of a schema that a write command started together with this read is
    creating: it commits whole, so poll for it up to APPEAR_GRACE_S (as SQLite waits for the
    file); NotFound when it does not appear."""
    deadline = time.monotonic() + APPEAR_GRACE_S
    while time.monotonic() < deadline:
        time.sleep(0.05)
        version = current_version(raw, url.schema)
        if version is not None:
            return version
    raise NotFound(f"no jobctl database at {url.display} (schema {url.schema!r})")


def migrate_in_transaction(raw: psycopg.Connection[Any], url: PgUrl) -> None:
    """Inside the caller's open transaction: create the schema if need be and bring it up to
    SCHEMA_VERSION, under the migration lock (held until that transaction ends, so others
    opening the schema wait for it), and point `search_path` at it. A newer schema is
    StoreError."""
    schema = url.schema
    raw.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"jobctl-migrate:{schema}",)
    )
    raw.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    raw.execute(f'CREATE TABLE IF NOT EXISTS "{schema}".schema_version (version integer NOT NULL)')
    raw.execute(f'SET LOCAL search_path TO "{schema}"')
    version = current_version(raw, schema) or 0  # another daemon may have done it
    if version > SCHEMA_VERSION:
        raise _too_new(url, version)
    for number, name in MIGRATION_FILES:
        if number > version:
            raw.execute((MIGRATIONS_DIR / name).read_text(encoding="utf-8"))
    if version < SCHEMA_VERSION:
        raw.execute("DELETE FROM schema_version")
        raw.execute("INSERT INTO schema_version (version) VALUES (%s)", (SCHEMA_VERSION,))
