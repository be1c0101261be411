"""`jobctl db copy SRC DEST` as a real subprocess: a database filled through real use goes
SQLite → PostgreSQL → SQLite with every row kept, ids and all; a non-empty destination is
refused and left as it was; a copy killed with SIGKILL half-way leaves the destination as it
was; a TTY gets a progress bar, a pipe none."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from jobctl.store import open_store
from jobctl.store.copy import TABLES
from tests.support.cli import TRACEBACK, Jobctl
from tests.support.factories import job_spec
from tests.support.pg import PgServer, require
from tests.support.populated import all_rows, populate, table_rows
from tests.support.tty import drain
from tests.support.waiting import wait_until


@pytest.fixture
def bare_pg(pg_server: PgServer) -> Iterator[str]:
    """A new PostgreSQL database without jobctl's schema."""
    require(pg_server)
    url = pg_server.fresh(migrated=False)
    yield url
    pg_server.drop(url)


def _pg(url: str) -> psycopg.Connection[Any]:
    conn = psycopg.connect(url, autocommit=True)
    conn.execute("SET search_path TO jobctl")
    return conn


def _has_schema(url: str) -> bool:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute("SELECT to_regnamespace('jobctl') IS NOT NULL").fetchone()[0]


def _copy_targets(db: Any) -> list[str]:
    """Where each `db copy` recorded in `db`'s audit log went."""
    sql = "SELECT target FROM audit WHERE action = 'db.copy' ORDER BY id"
    return [r[0] for r in db.execute(sql).fetchall()]


@pytest.mark.slow
def test_a_round_trip_sqlite_postgres_sqlite_keeps_every_row(
    jc: Jobctl, bare_pg: str, tmp_path: Path
) -> None:
    # Given a SQLite database filled through real use: every table holds rows
    ids = populate(jc)
    with contextlib.closing(sqlite3.connect(jc.db)) as conn:
        before = all_rows(conn)
        states = {r[0] for r in conn.execute("SELECT state FROM jobs")}
        highest = conn.execute("SELECT max(id) FROM jobs").fetchone()[0]
    assert not [t for t in TABLES if not before[t]], "every table is filled"
    assert states >= {"succeeded", "dead", "retrying", "queued", "waiting", "cancelled", "running"}

    # When it is copied into PostgreSQL, and from there into a new SQLite file
    out = jc.ok("db", "copy", str(jc.db), bare_pg)
    assert f"{sum(map(len, before.values()))} rows" in out
    back = tmp_path / "back" / "jobctl.db"
    jc.ok("db", "copy", bare_pg, str(back))

    # Then every table holds the same rows at each step (ids included), and each copy is
    # recorded in its destination's audit log
    with _pg(bare_pg) as pg, sqlite3.connect(back) as lite:
        middle, after = all_rows(pg), all_rows(lite)
        assert _copy_targets(pg) == [bare_pg]
        assert _copy_targets(lite) == [bare_pg, str(back)]
        middle["audit"] = table_rows(pg, "audit", "action != 'db.copy'")
        after["audit"] = table_rows(lite, "audit", "action != 'db.copy'")
    for table in TABLES:
        assert middle[table] == before[table], f"{table} changed on the way to PostgreSQL"
        assert after[table] == before[table], f"{table} changed on the way back"

    # And both copies are sound, and new ids follow the copied ones on PostgreSQL
    assert jc.json("--db", bare_pg, "db", "check")["ok"] is True
    assert jc.json("--db", str(back), "db", "check")["ok"] is True
    store = open_store(bare_pg)
    try:
        (new,) = store.jobs.enqueue([job_spec()], store.now())
        assert new.id == highest + 1
        assert store.jobs.get(ids["running"]).checkpoint == "step-2"
    finally:
        store.close()


def test_a_non_empty_destination_is_refused_and_left_as_it_was(
    jc: Jobctl, pg_url: str, tmp_path: Path
) -> None:
    # Given a source with a job, and destinations that already hold a job
    jc.enqueue("--", "true")
    store = open_store(pg_url)
    store.jobs.enqueue([job_spec(["echo", "keep me"])], store.now())
    store.close()
    other = Jobctl(tmp_path / "other")
    (tmp_path / "other").mkdir()
    other.enqueue("--", "echo", "keep me")
    with _pg(pg_url) as pg:
        pg_before = all_rows(pg)
    with sqlite3.connect(other.db) as conn:
        lite_before = all_rows(conn)
    for dest in (pg_url, str(other.db)):
        # When the copy is asked for
        res = jc.run("db", "copy", str(jc.db), dest)
        # Then it is refused (exit 4) on one line naming what is there, and nothing changed
        assert res.rc == 4, res
        assert "not empty" in res.err and "jobs" in res.err and len(res.err.splitlines()) == 1
    with _pg(pg_url) as pg:
        assert all_rows(pg) == pg_before
    with sqlite3.connect(other.db) as conn:
        assert all_rows(conn) == lite_before


def test_an_empty_jobctl_database_is_a_fine_destination(jc: Jobctl, pg_url: str) -> None:
    # Given an initialised but empty destination of each kind
    job = jc.enqueue("--", "true")
    empty = jc.tmp / "empty.db"
    open_store(str(empty)).close()
    for dest in (pg_url, str(empty)):
        # When copied into: -o json says what went where
        done = jc.json("db", "copy", str(jc.db), dest)
        assert done == {
            "source": str(jc.db),
            "destination": dest,
            "rows": 2,
            "tables": {**dict.fromkeys(TABLES, 0), "jobs": 1, "audit": 1},
        }
        assert jc.json("--db", dest, "show", str(job))["command"] == ["true"]


def _fill_jobs(path: Path, n: int) -> None:
    open_store(str(path)).close()
    with sqlite3.connect(path) as conn:
        conn.execute(
            "WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < ?)"
            " INSERT INTO jobs (queue, state, command, run_at, created_at, finished_at,"
            " attempts, max_attempts, backoff, backoff_base, backoff_max, jitter, output_tail)"
            " SELECT 'default', 'succeeded', '[\"true\"]', 1.7e9 + x, 1.7e9 + x, 1.7e9 + x,"
            " 1, 3, 'exponential', 1.0, 60.0, 'full', 'done ' || x FROM s",
            (n,),
        )


def _copying_into_pg(url: str) -> bool:
    """Whether a COPY into the destination runs in an open transaction right now."""
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid != pg_backend_pid() AND xact_start IS NOT NULL AND query LIKE 'COPY%%'"
        ).fetchone()[0]


def _copying_into_file(dest: str) -> bool:
    """Whether the new file being built next to `dest` has taken rows (several MB)."""
    path = Path(dest)
    for partial in path.parent.glob(f".{path.name}.partial-*[0-9]"):
        with contextlib.suppress(FileNotFoundError):  # gone when the copy is complete
            if partial.stat().st_size > 4_000_000:
                return True
    return False


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["postgres", "sqlite"])
def test_a_copy_killed_half_way_leaves_the_destination_as_it_was(
    jc: Jobctl, bare_pg: str, tmp_path: Path, kind: str
) -> None:
    # Given a source big enough that a copy takes a while
    _fill_jobs(jc.db, 300_000)
    dest = bare_pg if kind == "postgres" else str(tmp_path / "dest.db")
    proc = subprocess.Popen(
        [*jc.argv0, "db", "copy", str(jc.db), dest],
        env=jc.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        # When it is killed with SIGKILL while rows are going in
        copying = _copying_into_pg if kind == "postgres" else _copying_into_file
        wait_until(lambda: copying(dest) or proc.poll() is not None, 60, 0.01, "rows going in")
        assert proc.poll() is None, "the copy was still running"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    # Then the destination is as it was: no jobctl schema, no file
    if kind == "postgres":
        wait_until(lambda: not _copying_into_pg(dest), 30, 0.05, "the server to roll back")
        assert not _has_schema(dest)
    else:
        assert not Path(dest).exists()
    # And a second copy goes through
    assert "300000 rows" in jc.ok("db", "copy", str(jc.db), dest)


def test_a_progress_bar_on_a_tty_and_none_in_a_pipe(jc: Jobctl, tmp_path: Path) -> None:
    jc.enqueue("--", "true")
    # Given stderr on a terminal: a bar
    master, slave = os.openpty()
    try:
        proc = subprocess.run(
            [*jc.argv0, "db", "copy", str(jc.db), str(tmp_path / "tty.db")],
            env={**jc.env, "COLUMNS": "100"},
            stdout=subprocess.PIPE,
            stderr=slave,
            timeout=60,
        )
        shown = drain(master).decode(errors="replace")
    finally:
        os.close(slave)
        os.close(master)
    assert proc.returncode == 0, shown
    assert "copying" in shown and "2/2" in shown and "━" in shown, shown
    assert TRACEBACK not in shown
    # Given a pipe: no bar, no escape sequences, only the summary on stdout
    res = jc.run("db", "copy", str(jc.db), str(tmp_path / "pipe.db"))
    assert res.rc == 0 and res.err == "" and "\x1b" not in res.out
    assert res.out.startswith("copied 2 rows (jobs 1, audit 1)")
