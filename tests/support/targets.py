"""Sweep target DBs for tests: a SQLite file in tmp_path, or a fresh PostgreSQL schema.

PostgreSQL comes from JOBCTL_TEST_PG_URL (default postgresql://postgres@127.0.0.1:5432/test).
When it is unreachable the test skips with the reason locally, and fails when CI is set."""

from __future__ import annotations

import os
import sqlite3
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

PG_URL = os.environ.get("JOBCTL_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
T_TABLE = "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL, tag TEXT)"


def pg_connect() -> Any:
    """A psycopg connection to the test server, or skip (fail under CI) when absent."""
    try:
        import psycopg

        return psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except Exception as exc:
        reason = f"PostgreSQL at {PG_URL} is unreachable: {exc}"
        if os.environ.get("CI"):
            pytest.fail(reason + " (CI must run the PostgreSQL tests)")
        pytest.skip(reason)


class SQLiteTargetDB:
    kind = "sqlite"

    def __init__(self, tmp_path: Path) -> None:
        self.path = tmp_path / "target.db"
        self.url = "sqlite:///" + str(self.path)
        sqlite3.connect(self.path).close()

    def execute(self, sql: str, params: Any = ()) -> None:
        with sqlite3.connect(self.path, timeout=30) as con:
            if isinstance(params, list):
                con.executemany(sql, params)
            else:
                con.execute(sql, params)
        con.close()

    def scalar(self, sql: str, params: Any = ()) -> Any:
        con = sqlite3.connect(self.path, timeout=30)
        try:
            return con.execute(sql, params).fetchone()[0]
        finally:
            con.close()

    def connect(self) -> Any:
        return sqlite3.connect(self.path, timeout=30, isolation_level=None)

    def close(self) -> None:
        pass


class PostgresTargetDB:
    """A schema of its own (search_path set in the URL); dropped at the end."""

    kind = "postgres"

    def __init__(self) -> None:
        self.admin = pg_connect()
        self.schema = "jobctl_test_" + uuid.uuid4().hex[:12]
        self.admin.execute(f'CREATE SCHEMA "{self.schema}"')
        self.url = (
            PG_URL
            + ("&" if "?" in PG_URL else "?")
            + "options="
            + quote(f"-csearch_path={self.schema}")
        )

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s")

    def execute(self, sql: str, params: Any = ()) -> None:
        with self.connect() as con:
            if isinstance(params, list):
                con.cursor().executemany(self._sql(sql), params)
            else:
                con.execute(self._sql(sql) if params else sql, params or None)

    def scalar(self, sql: str, params: Any = ()) -> Any:
        with self.connect() as con:
            return con.execute(self._sql(sql) if params else sql, params or None).fetchone()[0]

    def connect(self) -> Any:
        import psycopg

        return psycopg.connect(self.url, autocommit=True)

    def close(self) -> None:
        self.admin.execute(f'DROP SCHEMA "{self.schema}" CASCADE')
        self.admin.close()


def make_target(kind: str, tmp_path: Path) -> SQLiteTargetDB | PostgresTargetDB:
    return SQLiteTargetDB(tmp_path) if kind == "sqlite" else PostgresTargetDB()


def fill_t(db: SQLiteTargetDB | PostgresTargetDB, rows: int) -> None:
    """Table t with `rows` rows, v = id, tag 'x'."""
    db.execute(T_TABLE)
    db.execute(
        "INSERT INTO t (id, v, tag) VALUES (?, ?, 'x')", [(i, i) for i in range(1, rows + 1)]
    )
