"""Everyday commands and `db copy|backup|check` against a PostgreSQL server that cannot
serve: unreachable → exit 75, no such role or database, or a wrong password → exit 1; one
line each, no traceback, never the password, and nothing written anywhere."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from jobctl.store import open_store
from tests.support import pgbouncer
from tests.support.cli import run_main
from tests.support.pg import PgServer, require

SECRET = "s3cret-pw"
UNREACHABLE = f"postgresql://ops:{SECRET}@127.0.0.1:1/jobctl"
NO_ROLE = f"postgresql://no_such_role:{SECRET}@127.0.0.1:5432/postgres"
NO_DATABASE = f"postgresql://postgres:{SECRET}@127.0.0.1:5432/no_such_database_here"


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pg_server: PgServer) -> None:
    require(pg_server)
    (tmp_path / "config.yaml").write_text("")
    monkeypatch.setenv("JOBCTL_CONFIG", str(tmp_path / "config.yaml"))
    monkeypatch.chdir(tmp_path)
    open_store(str(tmp_path / "source.db")).close()


def _commands(url: str) -> list[list[str]]:
    return [
        ["db", "copy", "source.db", url],
        ["db", "copy", url, "dest.db"],
        ["--db", url, "db", "check"],
        ["--db", url, "db", "backup", "backup.db"],
        ["--db", url, "enqueue", "--", "true"],
        ["--db", url, "status"],
        ["--db", url, "list"],
        ["--db", url, "schedule", "add", "s", "--cron", "* * * * *", "--", "true"],
        ["--db", url, "lock", "l", "--", "true"],
        ["--db", url, "once", "run", "o", "--", "true"],
    ]


@pytest.mark.parametrize(
    ("url", "code", "says"),
    [
        (UNREACHABLE, 75, "is unreachable"),
        (NO_ROLE, 1, 'role "no_such_role" does not exist'),
        (NO_DATABASE, 1, 'database "no_such_database_here" does not exist'),
    ],
    ids=["unreachable", "no-role", "no-database"],
)
def test_a_server_that_cannot_serve_is_one_line_without_the_password(
    tmp_path: Path, url: str, code: int, says: str
) -> None:
    for argv in _commands(url):
        res = run_main(*argv)
        assert res.rc == code, (argv, res)
        assert says in res.err and len(res.err.splitlines()) == 1, (argv, res.err)
        assert SECRET not in res.out + res.err and "***" in res.err, (argv, res.err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml", "source.db"]


@pytest.mark.parametrize(
    ("src", "dest", "says"),
    [
        ("source.db", "./source.db", "same database"),
        ("source.db", ".", "is a directory"),
        ("source.db", "postgresql://postgres@127.0.0.1:5432/x?schema=Bad-Name", "invalid schema"),
        ("", "dest.db", "give SRC"),
        ("source.db", f"mysql://ops:{SECRET}@db1/jobs", "unsupported database URL scheme"),
    ],
)
def test_invalid_input_is_exit_2_and_writes_nothing(
    tmp_path: Path, src: str, dest: str, says: str
) -> None:
    res = run_main("db", "copy", src, dest)
    assert res.rc == 2 and says in res.err and len(res.err.splitlines()) == 1, res
    assert SECRET not in res.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml", "source.db"]


def test_bad_credentials_are_one_line_exit_1_and_never_print_a_password(
    tmp_path: Path, pg_server: PgServer, pg_url: str
) -> None:
    """The test server trusts 127.0.0.1, so a PgBouncer that checks passwords stands in for
    a server that does."""
    right, wrong = "right-pw-51", "wrong-pw-73"
    with pgbouncer.running(tmp_path / "pool", pg_server.url, password=right) as bouncer:
        base = urlsplit(bouncer.url(pg_url))
        good, bad = (urlunsplit(base._replace(netloc=f"postgres:{pw}@127.0.0.1:{bouncer.port}"))
                     for pw in (right, wrong))  # fmt: skip
        for argv in (*_commands(bad), ["--db", bad, "daemon"]):
            res = run_main(*argv)
            assert res.rc == 1, (argv, res)
            assert "password authentication failed" in res.err, res.err
            assert len(res.err.splitlines()) == 1, (argv, res.err)
            assert wrong not in res.out + res.err and right not in res.out + res.err
        res = run_main("--db", good, "-o", "json", "status")
        assert res.rc == 0 and right not in res.out + res.err, res


@pytest.mark.parametrize(("url", "code"), [(UNREACHABLE, 75), (NO_DATABASE, 1)])
def test_a_daemon_that_cannot_reach_its_database_at_start_says_so_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, code: int
) -> None:
    monkeypatch.setenv("RUNTIME_DIRECTORY", str(tmp_path / "run"))
    res = run_main("--db", url, "daemon")
    assert res.rc == code and len(res.err.splitlines()) == 1, res
    assert SECRET not in res.out + res.err
