"""Shared fixtures: real SQLite files in tmp_path (WAL), a store, a client, a manual clock."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobctl.client import Client
from jobctl.config.model import Config
from jobctl.store import Store, open_store
from tests.support.clock import ManualClock
from tests.support.pg import PgServer, fresh_url


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's own jobctl DB, config or systemd socket."""
    for name in list(os.environ):
        if name.startswith(("JOBCTL_", "NOTIFY_SOCKET", "WATCHDOG_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))


SYSTEM_PATHS = (Path("/etc/jobctl"), Path("/var/lib/jobctl"))  # root's defaults


@pytest.fixture(autouse=True, scope="session")
def _system_paths_untouched() -> Iterator[None]:
    """As root, the default config and DB live in /etc and /var/lib: no test may create
    them (a test must give its own --db/JOBCTL_DB and --config/JOBCTL_CONFIG)."""
    before = {p: p.exists() for p in SYSTEM_PATHS}
    yield
    created = [str(p) for p in SYSTEM_PATHS if p.exists() and not before[p]]
    assert not created, f"tests created root's default paths: {created}"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "jobctl.db"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    server = PgServer()
    yield server
    server.close()


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """A fresh PostgreSQL database with jobctl's schema (skips locally without a server)."""
    yield from fresh_url(pg_server)


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, db_path: Path) -> Iterator[str]:
    """The URL of a fresh jobctl database on each backend."""
    if request.param == "sqlite":
        yield str(db_path)
    else:
        yield from fresh_url(request.getfixturevalue("pg_server"))


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = open_store(db_url)
    yield s
    s.close()


@pytest.fixture
def client(request: pytest.FixtureRequest, db_path: Path) -> Iterator[Client]:
    """A client on the test's database: the `db_url` one when the test runs on each backend
    (it asked for `store` or `db_url`), else a SQLite file."""
    db = request.getfixturevalue("db_url") if "db_url" in request.fixturenames else db_path
    c = Client(db, Config())
    yield c
    c.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()
