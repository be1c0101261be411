"""`jobctl logs` reads an attempt's output from the store when the store holds it (from any
host), else from the log file on this host (client.AttemptOutput), on both backends."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from jobctl.client import Client
from jobctl.domain.failure import Decision
from jobctl.domain.job import State
from jobctl.errors import NotFound
from jobctl.store import Store
from jobctl.store.repos.dispatch import Finish, Spawn
from jobctl.store.repos.output import CHUNK_BYTES, OutputWrite, chunked
from tests.support.clock import ManualClock
from tests.support.factories import claim, job_spec

RUNNER = "node-a:1:x"


def _spawned(store: Store, clock: ManualClock, log: Path | None, **spec: object) -> int:
    """A running job whose attempt 1 writes (or wrote, on another host) to `log`."""
    (entry,) = store.jobs.enqueue([job_spec(**spec)], clock.now())  # type: ignore[arg-type]
    store.dispatch.claim(claim(runner=RUNNER), clock.now())
    if log is not None:
        store.dispatch.record_spawns([Spawn(entry.id, 1, 4242, 1, str(log))])
    return entry.id


def _finish(store: Store, clock: ManualClock, job_id: int, output: OutputWrite | None) -> None:
    ending = Finish(job_id, 1, RUNNER, Decision(State.SUCCEEDED, None), exit_code=0, output=output)
    assert store.dispatch.finish([ending], clock.now()) == [ending]


def _read(client: Client, job_id: int) -> bytes:
    return b"".join(client.output(job_id).chunks())


def test_stored_output_is_read_wherever_the_file_is(
    store: Store, db_url: str, clock: ManualClock, tmp_path: Path
) -> None:
    # Given an attempt that ran on another host (its log file is not here) and kept its
    # output in the store, more than one page of chunks, binary
    data = b"\x00\xff" + os.urandom(CHUNK_BYTES * 70)
    job_id = _spawned(store, clock, tmp_path / "elsewhere" / "1.1.log")
    _finish(store, clock, job_id, OutputWrite(job_id, 1, chunked(data, 1)))
    # Then the client reads it, exact, from the store
    with Client(db_url) as client:
        assert _read(client, job_id) == data


def test_without_stored_output_the_local_file_is_read(
    store: Store, db_url: str, clock: ManualClock, tmp_path: Path
) -> None:
    log = tmp_path / "logs" / "1.1.log"
    log.parent.mkdir()
    log.write_bytes(b"from the file\n")
    job_id = _spawned(store, clock, log)
    _finish(store, clock, job_id, None)
    with Client(db_url) as client:
        assert _read(client, job_id) == b"from the file\n"
        log.unlink()  # printed nothing / file gone: empty, not an error
        assert _read(client, job_id) == b""


def test_a_follower_of_a_store_that_keeps_output_waits_for_the_store(
    store: Store, db_url: str, clock: ManualClock, tmp_path: Path
) -> None:
    """While the attempt runs, a keeping store's follower reads chunks only (the file on this
    host would be read twice once the chunks arrive); SQLite's follows the file."""
    log = tmp_path / "1.1.log"
    log.write_bytes(b"line 1\n")
    job_id = _spawned(store, clock, log)
    with Client(db_url) as client:
        follower = client.output(job_id)
        if store.keeps_output:
            assert follower.read_new(ended=False) == b""
            store.output.append(job_id, 1, 1, b"line 1\n")
            assert follower.read_new(ended=False) == b"line 1\n"
            _finish(store, clock, job_id, OutputWrite(job_id, 1, ((2, b"line 2\n"),)))
            assert follower.read_new(ended=True) == b"line 2\n"
        else:
            assert follower.read_new(ended=False) == b"line 1\n"
            with log.open("ab") as f:
                f.write(b"line 2\n")
            assert follower.read_new(ended=False) == b"line 2\n"
        assert follower.read_new(ended=True) == b""


def test_an_attempt_without_output_is_not_found(
    store: Store, db_url: str, clock: ManualClock
) -> None:
    job_id = _spawned(store, clock, None)  # claimed, its process not started (or a handler)
    with Client(db_url) as client, pytest.raises(NotFound, match="captured no output"):
        client.output(job_id)
    (unrun,) = store.jobs.enqueue([job_spec()], clock.now())
    with Client(db_url) as client, pytest.raises(NotFound, match="has not run yet"):
        client.output(unrun.id)


def test_logs_from_another_host_prints_the_stored_output(
    pg_url: str, clock: ManualClock, tmp_path: Path
) -> None:
    """`jobctl logs` in a process with its own (empty) state and log directories."""
    from jobctl.store import open_store

    store = open_store(pg_url)
    try:
        job_id = _spawned(store, clock, Path("/nonexistent/host-a/logs/1.1.log"))
        output = OutputWrite(job_id, 1, ((1, b"hello from host a\n"), (2, b"\xffbye\n")))
        _finish(store, clock, job_id, output)
    finally:
        store.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBCTL_")}
    env.update(JOBCTL_DB=pg_url, XDG_STATE_HOME=str(tmp_path / "host-b"))
    for args in (["logs", str(job_id)], ["logs", "-f", str(job_id)]):
        proc = subprocess.run(
            [sys.executable, "-m", "jobctl", *args], env=env, capture_output=True, timeout=60
        )
        assert (proc.returncode, proc.stderr) == (0, b"")
        assert proc.stdout == b"hello from host a\n\xffbye\n"
