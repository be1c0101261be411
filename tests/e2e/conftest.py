from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import TRACEBACK, Jobctl
from tests.support.pg import PgServer, fresh_url


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A module with `ON_EACH_BACKEND = True` runs its `jc` tests on SQLite and PostgreSQL."""
    if "jc" in metafunc.fixturenames and getattr(metafunc.module, "ON_EACH_BACKEND", False):
        metafunc.parametrize("backend", ["sqlite", "postgres"], indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    return getattr(request, "param", "sqlite")


@pytest.fixture
def jc(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> Iterator[Jobctl]:
    urls: Iterator[str] | None = None
    db_url = None
    if backend == "postgres":
        server: PgServer = request.getfixturevalue("pg_server")
        urls = fresh_url(server)
        db_url = next(urls)
    j = Jobctl(tmp_path, db_url)
    try:
        yield j
    finally:
        j.stop_daemons()
        if urls is not None:
            next(urls, None)  # drops the database
    for index in range(len(j.daemons)):
        assert TRACEBACK not in j.daemon_log(index), j.daemon_log(index)
