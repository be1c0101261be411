"""The daemon on a store that keeps attempt output (PostgreSQL), driven tick by tick: running
attempts' output reaches the store while they run, all of it when they end, and the local
spool files go; a drained attempt given back takes its output with it."""

from __future__ import annotations

import dataclasses
import io
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobctl.client import Client
from jobctl.config.model import Config
from jobctl.domain.job import State
from jobctl.runtime.daemon import Daemon, DaemonOptions
from jobctl.runtime.eventlog import EventLog
from jobctl.runtime.launch import LaunchContext
from jobctl.store import Store, open_store
from tests.support.clock import ManualClock
from tests.support.factories import job_spec
from tests.support.waiting import wait_until


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[Store]:
    store = open_store(pg_url)
    yield store
    store.close()


@pytest.fixture
def daemon(pg_store: Store, pg_url: str, clock: ManualClock, tmp_path: Path) -> Iterator[Daemon]:
    ctx = LaunchContext(pg_url, "node-a", tmp_path / "spool", 1 << 20, {"PATH": "/bin:/usr/bin"})
    d = Daemon(
        pg_store,
        Config(),
        DaemonOptions(node="node-a", lease=30.0, grace=5.0),
        clock,
        EventLog("logfmt", io.StringIO()),
        ctx,
        rng=random.Random(1),
    )
    d.start()
    yield d
    d.drain()
    d.close()


def _stored(store: Store, job_id: int, attempt: int = 1) -> bytes:
    out, seq = b"", -1
    while page := store.output.chunks_after(job_id, attempt, seq):
        out += b"".join(d for _, d in page)
        seq = page[-1][0]
    return out


def _step(daemon: Daemon, clock: ManualClock) -> None:
    daemon.tick()
    daemon._wait()  # pumps output, reaps exits
    clock.advance(0.25)


def test_output_is_in_the_store_and_the_spool_is_gone(
    pg_store: Store, pg_url: str, daemon: Daemon, tmp_path: Path, clock: ManualClock
) -> None:
    assert pg_store.keeps_output
    (job,) = pg_store.jobs.enqueue(
        [job_spec(["sh", "-c", "echo one; echo two >&2; printf '\\377'"])], clock.now()
    )
    quiet = pg_store.jobs.enqueue([job_spec(["true"])], clock.now())[0].id
    daemon.run_until_idle()
    assert pg_store.jobs.get(job.id).state is State.SUCCEEDED
    assert _stored(pg_store, job.id) == b"one\ntwo\n\xff"
    assert _stored(pg_store, quiet) == b""
    # The spool holds no file any more; `logs` reads the store from another directory
    assert not [p for p in (tmp_path / "spool").rglob("*") if p.is_file()]
    with Client(pg_url) as client:
        assert b"".join(client.output(job.id).chunks()) == b"one\ntwo\n\xff"


def test_a_running_attempt_output_reaches_the_store_before_it_ends(
    pg_store: Store, daemon: Daemon, tmp_path: Path, clock: ManualClock
) -> None:
    flag = tmp_path / "go-on"
    script = f"echo started; while [ ! -e {flag} ]; do sleep 0.02; done; echo done"
    (job,) = pg_store.jobs.enqueue([job_spec(["sh", "-c", script])], clock.now())
    # While it runs, its first line is pushed (about once a second of the daemon's clock)
    wait_until(
        lambda: _step(daemon, clock) or _stored(pg_store, job.id) == b"started\n",
        20,
        0,
        "the running attempt's output in the store",
    )
    assert pg_store.jobs.get(job.id).state is State.RUNNING
    # And when it ends, the rest follows with its finish
    flag.touch()
    daemon.run_until_idle()
    assert _stored(pg_store, job.id) == b"started\ndone\n"
    assert [s for s, _ in pg_store.output.chunks_after(job.id, 1, -1)] == [1, 2]


def test_output_beyond_the_cap_keeps_the_tail_with_the_marker(
    pg_store: Store, pg_url: str, tmp_path: Path, clock: ManualClock
) -> None:
    ctx = LaunchContext(pg_url, "node-a", tmp_path / "spool", 8192, {"PATH": "/bin:/usr/bin"})
    d = Daemon(
        pg_store, Config(), DaemonOptions(node="node-a"), clock,
        EventLog("logfmt", io.StringIO()), ctx, rng=random.Random(1),
    )  # fmt: skip
    d.start()
    try:
        script = "i=0; while [ $i -lt 3000 ]; do echo line $i; i=$((i+1)); done"
        (job,) = pg_store.jobs.enqueue([job_spec(["sh", "-c", script])], clock.now())
        d.run_until_idle()
    finally:
        d.drain()
        d.close()
    stored = _stored(pg_store, job.id)
    assert stored.startswith(b"[jobctl: ") and stored.endswith(b"line 2999\n")
    assert len(stored.split(b"\n", 1)[1]) <= 8192


def test_a_drained_attempt_takes_its_output_back(
    pg_store: Store, daemon: Daemon, tmp_path: Path, clock: ManualClock
) -> None:
    (job,) = pg_store.jobs.enqueue(
        [job_spec(["sh", "-c", "echo partial; exec sleep 60"])], clock.now()
    )
    wait_until(
        lambda: _step(daemon, clock) or _stored(pg_store, job.id),
        20,
        0,
        "the running attempt's output in the store",
    )
    daemon.options = dataclasses.replace(daemon.options, grace=0.0)
    daemon.drain()
    got = pg_store.jobs.get(job.id)
    assert (got.state, got.attempts) == (State.QUEUED, 0)
    assert _stored(pg_store, job.id) == b""
    assert not [p for p in (tmp_path / "spool").rglob("*") if p.is_file()]
