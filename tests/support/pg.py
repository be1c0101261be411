"""PostgreSQL for tests: one template database per session (jobctl's schema migrated once),
cloned per test (`CREATE DATABASE … TEMPLATE`), as procrastinate does.

The server is $JOBCTL_TEST_PG_URL (default: the local server, trust auth). When it cannot
be reached, tests that need it skip with the reason, or fail when $CI is set.
"""

from __future__ import annotations

import contextlib
import os
import random
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

SERVER = os.environ.get("JOBCTL_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


class PgServer:
    """Creates and drops test databases on one server."""

    def __init__(self, url: str = SERVER) -> None:
        self.url = url
        self.template: str | None = None
        self._lock = threading.Lock()
        self._created: list[str] = []
        self.error: str | None = None
        try:
            import psycopg

            with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
                conn.execute("SELECT 1")
        except Exception as exc:
            self.error = f"PostgreSQL at {url} is not reachable: {' '.join(str(exc).split())}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql)

    def _ensure_template(self) -> str:
        with self._lock:
            if self.template is None:
                from jobctl.store import open_store

                name = f"jobctl_tmpl_{os.getpid()}_{random.getrandbits(32):08x}"
                self._admin(f'CREATE DATABASE "{name}"')
                self._created.append(name)
                store = open_store(_with_db(self.url, name))  # migrates the schema
                store.close()
                from jobctl.store.postgres.connection import parse_url, pool_for, release_pool

                # no connection may stay open on a template that is being cloned
                pool = pool_for(parse_url(_with_db(self.url, name)))
                release_pool(pool)
                self.template = name
            return self.template

    def fresh(self, migrated: bool = True) -> str:
        """The URL of a new database (with jobctl's schema when `migrated`)."""
        name = f"jobctl_t_{os.getpid()}_{random.getrandbits(40):010x}"
        template = f' TEMPLATE "{self._ensure_template()}"' if migrated else ""
        self._admin(f'CREATE DATABASE "{name}"{template}')
        with self._lock:
            self._created.append(name)
        return _with_db(self.url, name)

    def drop(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        from jobctl.store.postgres.connection import close_pools_of

        close_pools_of(url)
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        with self._lock:
            if name in self._created:
                self._created.remove(name)

    def close(self) -> None:
        for name in list(self._created):
            with contextlib.suppress(Exception):  # best effort at session end
                self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._created.clear()


def require(server: PgServer) -> None:
    """Skip (fail under CI) when the server is not reachable."""
    if server.error:
        if os.environ.get("CI"):
            pytest.fail(server.error + " (CI is set: PostgreSQL is required)")
        pytest.skip(server.error)


def fresh_url(server: PgServer) -> Iterator[str]:
    require(server)
    url = server.fresh()
    yield url
    server.drop(url)
