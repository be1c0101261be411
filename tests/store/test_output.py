"""Attempt output kept in the store (store/repos/output.py), on both backends: chunks in
order, the cap's drops and marker, replacement, one transaction with the finish, deleted
with the job, given back with a requeued attempt, and carried by `db copy`."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobctl.domain.failure import Decision
from jobctl.domain.job import State
from jobctl.errors import InvalidInput, NotFound
from jobctl.store import Store, open_store
from jobctl.store.copy import copy_database
from jobctl.store.maintenance import backup
from jobctl.store.repos.dispatch import Finish
from jobctl.store.repos.output import CHUNK_BYTES, OutputWrite, chunked
from tests.support.clock import ManualClock
from tests.support.factories import claim, job_spec

RUNNER = "node-a:1:x"


def _running(store: Store, clock: ManualClock) -> int:
    (entry,) = store.jobs.enqueue([job_spec()], clock.now())
    (job,) = store.dispatch.claim(claim(runner=RUNNER), clock.now())
    assert job.id == entry.id
    return job.id


def _all(store: Store, job_id: int, attempt: int = 1) -> bytes:
    out, seq = b"", -1
    while page := store.output.chunks_after(job_id, attempt, seq, limit=3):
        out += b"".join(data for _, data in page)
        seq = page[-1][0]
    return out


def test_keeps_output_on_postgresql_only(store: Store) -> None:
    assert store.keeps_output is (store.kind == "postgres")


def test_chunks_come_back_in_order_and_after_a_seq(store: Store, clock: ManualClock) -> None:
    job_id = _running(store, clock)
    # Given chunks appended out of order, some binary
    for seq, data in ((2, b"two\n"), (1, b"one\n"), (3, b"\xff\x00three\n")):
        store.output.append(job_id, 1, seq, data)
    # Then they read back by seq, a follower gets only the newer ones, and bytes are exact
    assert _all(store, job_id) == b"one\ntwo\n\xff\x00three\n"
    assert store.output.chunks_after(job_id, 1, 2) == [(3, b"\xff\x00three\n")]
    assert store.output.chunks_after(job_id, 1, 3) == []
    assert store.output.total_bytes(job_id, 1) == 4 + 4 + 8
    # And another attempt, or a job with none, reads empty
    assert store.output.chunks_after(job_id, 2, -1) == []
    assert store.output.total_bytes(job_id + 1, 1) == 0


def test_append_refuses_a_seq_stored_twice_and_a_missing_job(
    store: Store, clock: ManualClock
) -> None:
    job_id = _running(store, clock)
    store.output.append(job_id, 1, 1, b"first")
    with pytest.raises(InvalidInput, match=f"job {job_id} attempt 1 already has output chunk 1"):
        store.output.append(job_id, 1, 1, b"second")
    with pytest.raises(InvalidInput, match="invalid output chunk seq 0"):
        store.output.append(job_id, 1, 0, b"x")
    with pytest.raises(NotFound, match=f"no job {job_id + 99}"):
        store.output.append(job_id + 99, 1, 1, b"x")
    assert _all(store, job_id) == b"first"


def test_a_write_drops_the_oldest_chunks_and_puts_the_marker_first(
    store: Store, clock: ManualClock
) -> None:
    job_id = _running(store, clock)
    store.output.write([OutputWrite(job_id, 1, ((1, b"a"), (2, b"b"), (3, b"c")))])
    # When a write drops chunks before 3 (beyond the cap) and says how much was dropped
    store.output.write([OutputWrite(job_id, 1, ((4, b"d"),), drop_before=3, marker=b"[2]\n")])
    # Then the marker comes first, then what the cap keeps
    assert _all(store, job_id) == b"[2]\ncd"
    # And a second marker replaces the first
    store.output.write([OutputWrite(job_id, 1, drop_before=4, marker=b"[3]\n")])
    assert _all(store, job_id) == b"[3]\nd"


def test_a_retried_write_changes_nothing_and_a_gone_job_gets_none(
    store: Store, clock: ManualClock
) -> None:
    a = _running(store, clock)
    write = OutputWrite(a, 1, ((1, b"one"), (2, b"two")))
    store.output.write([write])
    # When the same write comes again (its commit's answer was lost), with another job's
    # output and the output of a job that no longer exists
    b = _running(store, clock)
    store.output.write(
        [write, OutputWrite(b, 1, ((1, b"b"),)), OutputWrite(a + 99, 1, ((1, b"x"),))]
    )
    # Then nothing doubles, b's output is there, and no row names the missing job
    assert (_all(store, a), _all(store, b)) == (b"onetwo", b"b")
    assert store.output.total_bytes(a + 99, 1) == 0


def test_replace_stores_the_new_output_numbered_after_the_old(
    store: Store, clock: ManualClock
) -> None:
    job_id = _running(store, clock)
    store.output.write([OutputWrite(job_id, 1, ((1, b"old "), (2, b"part")), marker=b"[m]")])
    data = bytes(range(256)) * (CHUNK_BYTES // 128 + 1)  # three chunks
    last = store.output.replace(job_id, 1, data)
    assert last == 5  # 3, 4, 5: a follower past seq 2 is never taken back
    assert _all(store, job_id) == data
    assert [s for s, _ in store.output.chunks_after(job_id, 1, -1)] == [3, 4, 5]
    assert store.output.total_bytes(job_id, 1) == len(data)
    assert store.output.replace(job_id, 1, b"") == 0
    assert _all(store, job_id) == b""


def test_chunked_cuts_at_the_chunk_size() -> None:
    data = b"x" * (2 * CHUNK_BYTES + 1)
    chunks = chunked(data, 7)
    assert [(s, len(d)) for s, d in chunks] == [(7, CHUNK_BYTES), (8, CHUNK_BYTES), (9, 1)]
    assert chunked(b"", 1) == ()


def test_the_finish_stores_the_output_in_its_transaction(store: Store, clock: ManualClock) -> None:
    job_id = _running(store, clock)
    store.output.append(job_id, 1, 1, b"early\n")
    finish = Finish(
        job_id, 1, RUNNER, Decision(State.SUCCEEDED, None), exit_code=0,
        output=OutputWrite(job_id, 1, ((2, b"late\n"),)),
    )  # fmt: skip
    assert store.dispatch.finish([finish], clock.now()) == [finish]
    assert _all(store, job_id) == b"early\nlate\n"


def test_an_ending_discarded_for_a_lost_lease_still_stores_its_output(
    store: Store, clock: ManualClock
) -> None:
    job_id = _running(store, clock)
    finish = Finish(
        job_id, 1, "node-b:2:y", Decision(State.SUCCEEDED, None), exit_code=0,
        output=OutputWrite(job_id, 1, ((1, b"mine\n"),)),
    )  # fmt: skip
    assert store.dispatch.finish([finish], clock.now()) == []
    assert store.jobs.get(job_id).state is State.RUNNING
    assert _all(store, job_id) == b"mine\n"


def test_a_requeued_attempt_gives_back_its_output(store: Store, clock: ManualClock) -> None:
    job_id = _running(store, clock)
    store.output.append(job_id, 1, 1, b"before the drain")
    assert store.dispatch.requeue(job_id, 1, RUNNER, clock.now(), "daemon stopped")
    assert _all(store, job_id) == b""
    # When attempt 1 runs again, it starts afresh from chunk 1
    (job,) = store.dispatch.claim(claim(runner=RUNNER), clock.now())
    assert job.attempts == 1
    store.output.append(job_id, 1, 1, b"again")
    assert _all(store, job_id) == b"again"


def test_output_goes_with_its_job(store: Store, clock: ManualClock) -> None:
    job_id = _running(store, clock)
    store.output.append(job_id, 1, 1, b"bye")
    with store.db.write() as conn:  # what retention's batches do
        conn.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
    assert store.output.total_bytes(job_id, 1) == 0


def test_db_copy_carries_output_both_ways(
    store: Store, db_url: str, clock: ManualClock, tmp_path: Path, pg_url: str
) -> None:
    """db_url's backend → the other one → a new SQLite file: the bytes are exact."""
    job_id = _running(store, clock)
    data = b"\x00\xffbinary\n" + b"y" * (CHUNK_BYTES * 40)  # more chunks than one batch
    store.output.replace(job_id, 1, data)
    store.output.write([OutputWrite(job_id, 1, marker=b"[dropped]\n")])
    other = str(tmp_path / "other.db") if store.kind == "postgres" else pg_url
    copy_database(db_url, other)
    back = str(tmp_path / "back.db")
    copy_database(other, back)
    for url in (other, back):
        copied = open_store(url)
        try:
            assert _all(copied, job_id) == b"[dropped]\n" + data
        finally:
            copied.close()


def test_db_backup_carries_output(
    store: Store, db_url: str, clock: ManualClock, tmp_path: Path
) -> None:
    job_id = _running(store, clock)
    store.output.write([OutputWrite(job_id, 1, ((1, b"\x00kept\n"),), marker=b"[m]\n")])
    backup(db_url, tmp_path / "backup.db")
    copied = open_store(str(tmp_path / "backup.db"))
    try:
        assert _all(copied, job_id) == b"[m]\n\x00kept\n"
    finally:
        copied.close()
