"""Crash safety of batched dispatch: kill -9 of the daemon at random points of a drain
(between a tick's claim and its spawns, between an exit and the tick that records it, in the
middle of a tick's transaction), for handler jobs and for command jobs. Every job ends
succeeded exactly once, no attempt overlaps another of its job, none runs after its success
is on record, and no job process is left behind."""

from __future__ import annotations

import itertools
import os
import random
import sqlite3
import subprocess
import time
from collections import defaultdict
from pathlib import Path

import pytest

from tests.support.cli import Jobctl
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

HANDLERS = """\
import os, time


def work(payload):
    log = os.environ["RUNS_LOG"]
    me = f"{payload['n']} {os.getpid()}"
    with open(log, "a") as f:
        f.write(f"start {me} {time.time():.6f}\\n")
    time.sleep(payload["s"])
    with open(log, "a") as f:
        f.write(f"end {me} {time.time():.6f}\\n")
"""

SCRIPT = (
    'echo "start $JOBCTL_JOB_ID $JOBCTL_ATTEMPT $(date +%s.%N)" >> "$1"; sleep "$2";'
    ' echo "end $JOBCTL_JOB_ID $JOBCTL_ATTEMPT $(date +%s.%N)" >> "$1"'
)

Span = list[float | None]  # [start, end]


def _spans(log: Path) -> dict[int, dict[str, Span]]:
    """job → run (a handler run: the daemon's pid; a process: the attempt) → [start, end]."""
    spans: dict[int, dict[str, Span]] = defaultdict(dict)
    for line in log.read_text().splitlines():
        kind, job, run, stamp = line.split()
        spans[int(job)].setdefault(run, [None, None])[0 if kind == "start" else 1] = float(stamp)
    return spans


def _kill_during_drain(jc: Jobctl, args: tuple[str, ...], seed: int, kills: int) -> list[float]:
    """Start a daemon; kill -9 it `kills` times at random moments, restarting it at once;
    returns the restart times."""
    rng = random.Random(seed)
    victim = jc.start_daemon(*args)
    restarts = []
    for _ in range(kills):
        time.sleep(rng.uniform(0.05, 0.6))
        victim.kill()
        victim.wait(10)
        restarts.append(time.time())
        victim = jc.start_daemon(*args, registered=False)
    return restarts


def _finished(db: Path) -> dict[int, tuple[str, float, int]]:
    """job → (state, finished_at, attempts whose end was recorded as a success)."""
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        ok = dict(
            con.execute(
                "SELECT job_id, count(*) FROM attempts WHERE finished_at IS NOT NULL"
                " AND failure_class IS NULL GROUP BY job_id"
            ).fetchall()
        )
        rows = con.execute("SELECT id, state, finished_at FROM jobs").fetchall()
    finally:
        con.close()
    return {i: (state, finished or 0.0, ok.get(i, 0)) for i, state, finished in rows}


def _check(
    jobs: dict[int, tuple[str, float, int]],
    spans: dict[int, dict[str, Span]],
    restarts: list[float],
    why: str,
) -> None:
    for job_id, (state, finished_at, successes) in jobs.items():
        assert (state, successes) == ("succeeded", 1), f"job {job_id}: {state} {successes} {why}"
        runs = sorted(spans[job_id].values(), key=lambda s: s[0] or 0.0)
        assert runs and runs[-1][1] is not None, f"job {job_id}: no finished run {runs} {why}"
        for start, _end in runs:
            assert start is not None, f"job {job_id}: an end without a start {runs} {why}"
            assert start <= finished_at, f"job {job_id} ran after its success {runs} {why}"
        for (start, end), (next_start, _) in itertools.pairwise(runs):
            assert start is not None and next_start is not None
            if end is not None:
                assert end <= next_start, f"job {job_id}: runs overlap {runs} {why}"
            else:  # cut short by a kill -9; the restart (orphans ended first) came in between
                assert any(start < r < next_start for r in restarts), (
                    f"job {job_id}: an unfinished run overlaps the next {runs} {why}"
                )


def _drain(jc: Jobctl, total: int, why: str) -> None:
    def all_done() -> bool:
        counts = {q["queue"]: q for q in jc.json("status")["queues"]}["default"]
        return all(counts[k] == 0 for k in ("ready", "running", "retrying", "scheduled"))

    wait_until(all_done, 120, 0.25, f"every one of {total} jobs terminal {why}")
    jc.stop_daemons()


def _seed(name: str) -> tuple[int, str]:
    seed = int(os.environ.get("JOBCTL_TORTURE_SEED", random.randrange(10**6)))
    return seed, f"({name} seed {seed}; rerun with JOBCTL_TORTURE_SEED={seed})"


def test_kill9_during_a_batched_drain_of_handler_jobs(jc: Jobctl) -> None:
    from jobctl import Client
    from jobctl.config.check import load_config
    from jobctl.config.resolve import EnqueueOptions
    from jobctl.domain.retry import Backoff

    seed, why = _seed("handlers")
    rng = random.Random(seed)
    log = jc.tmp / "runs.log"
    log.touch()
    (jc.tmp / "crashmod.py").write_text(HANDLERS)
    config = jc.tmp / "config.yaml"
    config.write_text("job_types:\n  - {name: work, handler: 'crashmod:work'}\n")
    jc.env.update(JOBCTL_CONFIG=str(config), PYTHONPATH=str(jc.tmp), RUNS_LOG=str(log))
    total = 600
    with Client(jc.db, load_config(config)) as client:
        client.enqueue_options(
            [
                EnqueueOptions(
                    job_type="work",
                    payload={"n": n, "s": rng.choice([0, 0, 0.001, 0.005])},
                    max_attempts=50,
                    backoff=Backoff.FIXED,
                    backoff_base=0,
                )
                for n in range(total)
            ]
        )
    args = ("--node", "n1", "--concurrency", "4", "--lease", "60s", "--grace", "1s")
    restarts = _kill_during_drain(jc, args, seed, 6)
    _drain(jc, total, why)
    jobs = _finished(jc.db)
    assert len(jobs) == total, why
    by_n = _spans(log)  # handler lines name the payload's n: map to job ids (enqueue order)
    first = min(jobs)
    _check(jobs, {first + n: runs for n, runs in by_n.items()}, restarts, why)


def test_kill9_during_a_batched_drain_of_command_jobs(jc: Jobctl) -> None:
    from jobctl import Client
    from jobctl.config.resolve import EnqueueOptions
    from jobctl.domain.retry import Backoff

    seed, why = _seed("commands")
    rng = random.Random(seed)
    log = jc.tmp / "runs.log"
    log.touch()
    total = 300
    with Client(jc.db) as client:
        client.enqueue_options(
            [
                EnqueueOptions(
                    command=["sh", "-c", SCRIPT, "batched", str(log), rng.choice(["0", "0.02"])],
                    max_attempts=50,
                    backoff=Backoff.FIXED,
                    backoff_base=0,
                )
                for _ in range(total)
            ]
        )
    args = ("--node", "n1", "--concurrency", "8", "--lease", "60s", "--grace", "1s")
    restarts = _kill_during_drain(jc, args, seed, 6)
    _drain(jc, total, why)
    jobs = _finished(jc.db)
    assert len(jobs) == total, why
    _check(jobs, _spans(log), restarts, why)
    leftover = subprocess.run(["pgrep", "-f", str(log)], capture_output=True, text=True)
    assert not leftover.stdout.strip(), f"job processes left: {leftover.stdout} {why}"
