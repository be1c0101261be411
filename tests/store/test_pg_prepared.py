"""PostgreSQL statements a connection runs often are prepared (parsed and planned once), except
behind a transaction-mode pooler (`?poll=`), where the next transaction may land on another
server connection; a table changed under a prepared statement costs one error, not a stuck
connection."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from jobctl.errors import StoreError
from jobctl.store import Store, open_store
from jobctl.store.postgres.connection import PREPARE_AFTER, parse_url

NOW = datetime(2026, 12, 6, tzinfo=UTC)


def prepared_here(store: Store) -> int:
    """Statements prepared on the connection the store's next transaction gets."""
    with store.db.read() as conn:  # type: ignore[attr-defined]
        return conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()[0]


def read_often(store: Store) -> None:
    for _ in range(PREPARE_AFTER + 1):
        store.nodes.list(NOW)


def test_a_statement_run_often_is_prepared(pg_url: str) -> None:
    store = open_store(pg_url)
    try:
        read_often(store)
        assert prepared_here(store) >= 1
    finally:
        store.close()


def test_nothing_is_prepared_behind_a_pooler(pg_url: str) -> None:
    store = open_store(pg_url + "?poll=1s")
    try:
        read_often(store)
        assert prepared_here(store) == 0
    finally:
        store.close()


def test_a_table_changed_under_a_prepared_statement_fails_once(pg_url: str) -> None:
    store = open_store(pg_url)
    try:
        read_often(store)  # `SELECT * FROM nodes …` is prepared now
        with psycopg.connect(parse_url(pg_url).conninfo, autocommit=True) as other:
            other.execute("ALTER TABLE jobctl.nodes ADD COLUMN extra integer")
        with pytest.raises(StoreError, match="cached plan"):
            store.nodes.list(NOW)
        assert store.nodes.list(NOW) == []  # a new connection: prepared afresh
    finally:
        store.close()
