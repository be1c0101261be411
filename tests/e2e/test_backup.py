"""`jobctl db backup` while 4 writer processes enqueue and a daemon drains: the copy is a
valid database holding every job acknowledged before the backup started; `db check`."""

from __future__ import annotations

import multiprocessing
import sqlite3
import time
from pathlib import Path

import pytest

from tests.support.cli import Jobctl
from tests.support.waiting import wait_until


def _writer(db: str, acks: str, stop: multiprocessing.Event) -> None:  # type: ignore[valid-type]
    """Enqueue until told to stop; after each commit, note `id monotonic-time`."""
    from jobctl.client import Client

    with Client(db) as client, open(acks, "w") as out:
        while not stop.is_set():  # type: ignore[attr-defined]
            job_id = client.enqueue(["true"])
            out.write(f"{job_id} {time.monotonic()!r}\n")
            out.flush()


def _acks(paths: list[Path]) -> list[tuple[int, float]]:
    found = []
    for path in paths:
        text = path.read_text() if path.exists() else ""
        for line in text.split("\n")[:-1]:  # complete lines only: a writer may be mid-line
            job_id, at = line.split()
            found.append((int(job_id), float(at)))
    return found


@pytest.mark.slow
def test_a_backup_under_load_is_consistent_and_complete(jc: Jobctl, tmp_path: Path) -> None:
    jc.env["JOBCTL_CONFIG"] = str(tmp_path / "config.yaml")  # as root, init writes /etc
    jc.ok("init")
    jc.start_daemon("--concurrency", "2")
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    ack_files = [tmp_path / f"acks-{i}.txt" for i in range(4)]
    writers = [
        ctx.Process(target=_writer, args=(str(jc.db), str(path), stop)) for path in ack_files
    ]
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

    copy = tmp_path / "copy.db"
    assert not Path(f"{copy}-wal").exists(), "the copy is one self-contained file"
    with sqlite3.connect(copy) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        in_copy = {r[0] for r in conn.execute("SELECT id FROM jobs")}
    before = {job_id for job_id, at in _acks(ack_files) if at < started}
    assert before, "jobs were acknowledged before the backup"
    assert before <= in_copy, f"missing from the backup: {sorted(before - in_copy)[:10]}"
    after_ids = {job_id for job_id, _ in _acks(ack_files)}
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
