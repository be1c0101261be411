"""runtime/output.py against real capped logs and a real store (both backends: the keeper
works on any store; the daemon uses it where `store.keeps_output`): what is stored always
equals what the log keeps on disk, never more than the cap, rotations and the final join
included; leftover spool files of a dead predecessor are stored and removed."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest

from jobctl.domain.failure import Decision
from jobctl.domain.job import State
from jobctl.domain.retry import RetryPolicy
from jobctl.runtime.eventlog import EventLog
from jobctl.runtime.logcap import CappedLog, OnDisk
from jobctl.runtime.output import OutputKeeper, discard, leftover_write
from jobctl.runtime.reaper import Reaper
from jobctl.store import Store
from jobctl.store.repos.dispatch import Finish, Spawn
from tests.support.clock import ManualClock
from tests.support.factories import claim, job_spec

RUNNER = "node-a:1:x"


def _stored(store: Store, job_id: int, attempt: int = 1) -> bytes:
    out, seq = b"", -1
    while page := store.output.chunks_after(job_id, attempt, seq):
        out += b"".join(d for _, d in page)
        seq = page[-1][0]
    return out


def _on_disk(disk: OnDisk) -> bytes:
    """The bytes the log keeps, read the way `jobctl logs` reads a SQLite attempt's file."""
    return disk.marker + b"".join(
        p.path.read_bytes()[p.offset : p.offset + p.end - p.start] for p in disk.parts
    )


def _job(store: Store, clock: ManualClock) -> int:
    (entry,) = store.jobs.enqueue([job_spec()], clock.now())
    store.dispatch.claim(claim(runner=RUNNER), clock.now())
    return entry.id


def _finish(
    store: Store, clock: ManualClock, keeper: OutputKeeper, job_id: int, log: CappedLog
) -> None:
    log.close()
    disk = log.on_disk()
    output = keeper.final(job_id, disk)
    ending = Finish(job_id, 1, RUNNER, Decision(State.SUCCEEDED, None), exit_code=0, output=output)
    store.dispatch.finish([ending], clock.now())
    discard([disk])


@pytest.mark.parametrize("seed", range(6))
def test_the_store_holds_what_the_log_keeps_whatever_the_writes_and_pushes(
    store: Store, clock: ManualClock, tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    cap = 4096
    job_id = _job(store, clock)
    log = CappedLog(tmp_path / "logs" / f"{job_id}.1.log", cap)
    keeper = OutputKeeper(store, lambda _: log.on_disk())
    keeper.watch(job_id, 1)
    written = b""
    for _ in range(rng.randrange(1, 60)):
        # Given output in writes of any size (up to several rotations between two pushes)
        for _ in range(rng.randrange(0, 4)):
            data = bytes(rng.randrange(256) for _ in range(rng.choice((1, 50, 700, 3000, 9000))))
            log.write(data)
            written += data
        # Then after each push the store holds exactly what the log holds, within the cap
        keeper.push()
        assert _stored(store, job_id) == _on_disk(log.on_disk())
        assert store.output.total_bytes(job_id, 1) <= cap
    # When the attempt ends: the stored output is the final file's, marker and all
    path = log.path
    _finish(store, clock, keeper, job_id, log)
    final = _stored(store, job_id)
    assert final.endswith(written[-(cap // 2) :] if written else b"")
    if len(written) > cap:
        assert final.startswith(b"[jobctl: ") and b"bytes of earlier output dropped]\n" in final
    else:
        assert final == written
    # And the local files are gone
    assert not path.exists() and not path.with_name(path.name + ".1").exists()


def test_the_final_write_matches_the_joined_file_exactly(
    store: Store, clock: ManualClock, tmp_path: Path
) -> None:
    job_id = _job(store, clock)
    log = CappedLog(tmp_path / f"{job_id}.1.log", 1000)
    keeper = OutputKeeper(store, lambda _: log.on_disk())
    keeper.watch(job_id, 1)
    for n in range(30):
        log.write(f"line {n:04d}\n".encode() * 7)
        if n % 4 == 0:
            keeper.push()
    log.close()
    joined = log.path.read_bytes()  # what SQLite's `logs` prints
    output = keeper.final(job_id, log.on_disk())
    store.dispatch.finish(
        [Finish(job_id, 1, RUNNER, Decision(State.SUCCEEDED, None), exit_code=0, output=output)],
        clock.now(),
    )
    assert _stored(store, job_id) == joined
    assert joined.startswith(b"[jobctl: ")


def test_an_attempt_that_prints_nothing_costs_nothing(
    store: Store, clock: ManualClock, tmp_path: Path
) -> None:
    job_id = _job(store, clock)
    log = CappedLog(tmp_path / f"{job_id}.1.log", 1000)
    keeper = OutputKeeper(store, lambda _: log.on_disk())
    keeper.watch(job_id, 1)
    assert keeper.push() == 0
    log.close()
    assert keeper.final(job_id, log.on_disk()) is None
    assert not log.path.exists()


def test_leftover_spool_files_of_this_node_are_stored_and_removed(
    store: Store, clock: ManualClock, tmp_path: Path
) -> None:
    logs = tmp_path / "logs"
    # Given three ended attempts whose spool files a dead daemon left: one of this node with
    # a rotated (unjoined) log, half of it pushed; one of another node sharing the directory;
    # one whose output is all stored already (the crash came after its finish)
    mine, other, done = (_job(store, clock) for _ in range(3))
    files = {}
    for job_id, node in ((mine, "node-a"), (other, "node-b"), (done, "node-a")):
        path = logs / f"{job_id // 1000:06d}" / f"{job_id}.1.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        files[job_id] = path
        with store.db.write() as conn:
            conn.execute("UPDATE attempts SET node = ? WHERE job_id = ?", (node, job_id))
        store.dispatch.record_spawns([Spawn(job_id, 1, None, None, str(path))])
    files[mine].with_name(f"{mine}.1.log.1").write_bytes(b"older part\n")
    files[mine].write_bytes(b"newer part\n")
    store.output.append(mine, 1, 1, b"older")
    files[other].write_bytes(b"not mine\n")
    files[done].write_bytes(b"all stored\n")
    store.output.append(done, 1, 1, b"all stored\n")
    for job_id in (mine, other, done):
        ending = Finish(job_id, 1, RUNNER, Decision(State.DEAD, None), error="lost")
        store.dispatch.finish([ending], clock.now())
    # When this node's next daemon looks
    keeper = OutputKeeper(store, lambda _: None)
    stored = keeper.store_leftovers(logs, "node-a")
    # Then its attempts' files are in the store and gone from disk; the other node's stay
    assert stored == [(mine, 1), (done, 1)]
    assert _stored(store, mine) == b"older part\nnewer part\n"
    assert _stored(store, done) == b"all stored\n"
    assert not files[mine].exists() and not files[mine].with_name(f"{mine}.1.log.1").exists()
    assert not files[done].exists()
    assert files[other].read_bytes() == b"not mine\n"
    assert _stored(store, other) == b""


def test_an_orphans_spool_is_stored_with_its_ending(
    store: Store, clock: ManualClock, tmp_path: Path
) -> None:
    """Orphan recovery ends the attempt and stores what its spool holds in one transaction:
    a reader never finds the attempt ended without its output (it used to be stored by a
    later pass)."""
    logs = tmp_path / "logs"
    # Given a job of one attempt whose daemon died while it ran; its spool, rotated once,
    # holds more than was pushed
    (entry,) = store.jobs.enqueue([job_spec(retry=RetryPolicy(max_attempts=1))], clock.now())
    store.dispatch.claim(claim(runner=RUNNER), clock.now())
    path = logs / f"{entry.id // 1000:06d}" / f"{entry.id}.1.log"
    path.parent.mkdir(parents=True)
    store.dispatch.record_spawns([Spawn(entry.id, 1, None, None, str(path))])
    path.with_name(path.name + ".1").write_bytes(b"before ")
    path.write_bytes(b"the crash\n")
    store.output.append(entry.id, 1, 1, b"bef")
    # When the node's next daemon recovers its orphans
    reaper = Reaper(store, EventLog(stream=io.StringIO()), random.Random(1), "node-a:2:y",
                    "node-a", 0.1, lambda _: False)  # fmt: skip
    reaper.recover_orphans(
        clock.now(), lambda o: leftover_write(logs, o.job.id, o.job.attempts, o.log_path)
    )
    # Then the job is dead and its whole spool is its stored output, before any other pass
    assert store.jobs.get(entry.id).state is State.DEAD
    assert _stored(store, entry.id) == b"before the crash\n"
    # And the leftover pass finds it stored and only removes the files
    assert OutputKeeper(store, lambda _: None).store_leftovers(logs, "node-a") == [(entry.id, 1)]
    assert _stored(store, entry.id) == b"before the crash\n"
    assert not path.exists() and not path.with_name(path.name + ".1").exists()


def test_a_spool_outside_the_log_directory_or_of_another_attempt_is_not_read(
    tmp_path: Path,
) -> None:
    logs = tmp_path / "logs"
    path = logs / "000000" / "7.1.log"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"out\n")
    assert leftover_write(logs, 7, 1, str(path)) is not None
    assert leftover_write(logs, 7, 2, str(path)) is None
    assert leftover_write(logs, 8, 1, str(path)) is None
    assert leftover_write(tmp_path / "elsewhere", 7, 1, str(path)) is None
    assert leftover_write(logs, 7, 1, None) is None
    assert leftover_write(logs, 7, 1, str(path.with_name("7.1.log.1"))) is None
