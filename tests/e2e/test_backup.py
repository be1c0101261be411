"""`jobctl db backup` while 4 writer processes enqueue and a daemon drains: the copy is a
valid database holding every job acknowledged before the backup started; `db check`."""

from __future__ import annotations

import multiprocessing
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import Jobctl
from tests.support.pg import PgServer, require
from tests.support.waiting import wait_until


def _writer(db: str, acks: str, stop: multiprocessing.Event) -> None:  # type: ignore[valid-type]
    """Enqueue until told to stop; after each commit, note `id monotonic-time`."""
    from jobctl.client import Client

    with Client(db) as client, open(acks, "w") as out:
        while not stop.is_set():  # type: ignore[attr-defined]
            job_id = client.enqueue(["true"])
            out.write(f"{job_id} {time.monotonic()!r}\n")
            out.flush()


def _acks(paths: list[Path]) -> list[tuple[tuple[int, ...], float]]:
    """(job ids of one commit, when acknowledged) of every complete line the writers wrote."""
    found = []
    for path in paths:
        text = path.read_text() if path.exists() else ""
        for line in text.split("\n")[:-1]:  # complete lines only: a writer may be mid-line
            ids, at = line.split()
            found.append((tuple(int(i) for i in ids.split(",")), float(at)))
    return found


def _backup_while_writing(jc: Jobctl, writer: Any, db: str) -> tuple[float, list[Path]]:
    """`jobctl db backup copy.db` while 4 `writer(db, acks, stop)` processes commit; returns
    when the backup started and the writers' ack files (more acks came after it)."""
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    ack_files = [jc.tmp / f"acks-{i}.txt" for i in range(4)]
    writers = [ctx.Process(target=writer, args=(db, str(path), stop)) for path in ack_files]
    for w in writers:
        w.start()
    try:
        wait_until(lambda: len(_acks(ack_files)) >= 200, 60, 0.05, "writers to get going")
        started = time.monotonic()
        jc.ok("db", "backup", "copy.db")
        wait_until(lambda: max(a for _, a in _acks(ack_files)) > started, 30, 0.05, "more acks")
    finally:
        stop.set()
        for w in writers:
            w.join(30)
    assert all(w.exitcode == 0 for w in writers)
    return started, ack_files


@pytest.mark.slow
def test_a_backup_under_load_is_consistent_and_complete(jc: Jobctl, tmp_path: Path) -> None:
    jc.env["JOBCTL_CONFIG"] = str(tmp_path / "config.yaml")  # as root, init writes /etc
    jc.ok("init")
    jc.start_daemon("--concurrency", "2")
    started, ack_files = _backup_while_writing(jc, _writer, str(jc.db))

    copy = tmp_path / "copy.db"
    assert not Path(f"{copy}-wal").exists(), "the copy is one self-contained file"
    with sqlite3.connect(copy) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        in_copy = {r[0] for r in conn.execute("SELECT id FROM jobs")}
    before = {job_id for ids, at in _acks(ack_files) if at < started for job_id in ids}
    assert before, "jobs were acknowledged before the backup"
    assert before <= in_copy, f"missing from the backup: {sorted(before - in_copy)[:10]}"
    after_ids = {job_id for ids, _ in _acks(ack_files) for job_id in ids}
    assert after_ids - in_copy, "writers kept committing after the snapshot"

    checked = Jobctl(tmp_path)
    checked.env["JOBCTL_DB"] = str(copy)
    report = checked.json("db", "check")
    assert report["ok"] is True and report["integrity_check"] == ["ok"]
    assert report["schema_version"] == report["expected_schema_version"]


def test_backup_refuses_an_existing_path_unless_forced(jc: Jobctl, tmp_path: Path) -> None:
    jc.enqueue("--", "true")
    (tmp_path / "old.db").write_text("keep me")
    refused = jc.run("db", "backup", "old.db")
    assert refused.rc == 4 and "--force" in refused.err and len(refused.err.splitlines()) == 1
    assert (tmp_path / "old.db").read_text() == "keep me"
    jc.ok("db", "backup", "old.db", "--force")
    with sqlite3.connect(tmp_path / "old.db") as conn:
        assert conn.execute("SELECT count(*) FROM jobs").fetchone()[0] == 1
    outcomes = [(a["outcome"], a["target"]) for a in jc.json("audit", "--action", "db")]
    assert outcomes == [("refused", "old.db"), ("ok", "old.db")]


@pytest.mark.parametrize(
    ("where", "message"),
    [("missing-dir/copy.db", "no directory"), (".", "is a directory")],
)
def test_backup_to_an_unusable_path_is_one_clear_line(jc: Jobctl, where: str, message: str) -> None:
    jc.enqueue("--", "true")
    res = jc.run("db", "backup", where)
    assert res.rc in (1, 2) and message in res.err and len(res.err.splitlines()) == 1


def test_backup_into_a_read_only_directory_fails_cleanly(jc: Jobctl, tmp_path: Path) -> None:
    import os

    if os.geteuid() == 0:
        pytest.skip("root can write anywhere: permissions do not bite")
    jc.enqueue("--", "true")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    res = jc.run("db", "backup", str(locked / "copy.db"))
    assert res.rc == 1 and "not writable" in res.err


def test_backup_without_a_database_is_not_found_and_creates_none(jc: Jobctl) -> None:
    res = jc.run("db", "backup", "copy.db")
    assert res.rc == 3 and "no jobctl database" in res.err
    assert not jc.db.exists()


def test_db_check_reports_corruption_and_a_newer_schema(jc: Jobctl, tmp_path: Path) -> None:
    jc.enqueue("--", "true")
    assert jc.json("db", "check")["ok"] is True
    with sqlite3.connect(jc.db) as conn:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        conn.execute(f"PRAGMA user_version = {version + 1}")
    newer = jc.run("-o", "json", "db", "check")
    assert newer.rc == 1 and "newer than this jobctl" in newer.out
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"SQLite format 3\x00" + b"\x17" * 4096)
    jc.env["JOBCTL_DB"] = str(junk)
    broken = jc.run("db", "check")
    assert broken.rc == 1 and "problem" in broken.err
    assert junk.read_bytes().startswith(b"SQLite format 3"), "check does not touch the file"


def _pg_writer(url: str, acks: str, stop: multiprocessing.Event) -> None:  # type: ignore[valid-type]
    """Enqueue two jobs and their audit entry per transaction until told to stop; after each
    commit, note `id,id monotonic-time`."""
    from jobctl.clock import utcnow
    from jobctl.ops.audit import current_actor, entry
    from jobctl.store import open_store
    from tests.support.factories import job_spec

    store = open_store(url)
    with open(acks, "w") as out:
        while not stop.is_set():  # type: ignore[attr-defined]
            audit = entry(utcnow(), current_actor(), "writer", "job.enqueue", None)
            done = store.jobs.enqueue([job_spec(), job_spec()], utcnow(), audit=audit)
            out.write(f"{done[0].id},{done[1].id} {time.monotonic()!r}\n")
            out.flush()
    store.close()


@pytest.mark.slow
def test_a_postgres_backup_under_load_is_one_snapshot_that_db_copy_restores(
    jc: Jobctl, tmp_path: Path, pg_url: str, pg_server: PgServer
) -> None:
    # Given 4 processes enqueueing into PostgreSQL, each job pair with its audit entry
    (tmp_path / "config.yaml").write_text("")
    jc.env.update(JOBCTL_DB=pg_url, JOBCTL_CONFIG=str(tmp_path / "config.yaml"))
    # When it is backed up while they write
    started, ack_files = _backup_while_writing(jc, _pg_writer, pg_url)

    # Then the copy is one snapshot: its jobs are exactly those its audit entries name (the
    # jobs table was read before the audit table while writers committed both)
    copy = tmp_path / "copy.db"
    assert not Path(f"{copy}-wal").exists(), "the copy is one self-contained file"
    with sqlite3.connect(copy) as conn:
        jobs = {r[0] for r in conn.execute("SELECT id FROM jobs")}
        named = conn.execute("SELECT target FROM audit WHERE action = 'job.enqueue'").fetchall()
    audited_ids = {int(i) for (target,) in named for i in target.split(",")}
    assert jobs == audited_ids, f"jobs without audit / audit without jobs: {jobs ^ audited_ids}"
    # And it holds every pair acknowledged before the backup started, not those after it
    acked = _acks(ack_files)
    before = {i for ids, at in acked if at < started for i in ids}
    assert before <= jobs, f"missing from the backup: {sorted(before - jobs)[:10]}"
    assert {i for ids, _ in acked for i in ids} - jobs, "writers kept committing after it"
    checked = jc.json("--db", str(copy), "db", "check")
    assert checked["ok"] is True, checked

    # And `db copy` restores it into a new PostgreSQL database, row for row
    require(pg_server)
    restored = pg_server.fresh(migrated=False)
    try:
        jc.ok("db", "copy", str(copy), restored)
        assert len(jc.json("--db", restored, "list", "--limit", "100000")) == len(jobs)
    finally:
        pg_server.drop(restored)
