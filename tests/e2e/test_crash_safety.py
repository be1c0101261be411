"""Crash safety with real processes: kill -9 of daemons, orphans, several daemons on one DB."""

from __future__ import annotations

import fcntl
import itertools
import os
import random
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import psutil
import pytest

from tests.support.cli import Jobctl
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow


def _pids_mentioning(token: str) -> list[int]:
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        try:
            if token in " ".join(proc.info["cmdline"] or []) and proc.info["status"] != "zombie":
                found.append(proc.pid)
        except psutil.Error:
            continue
    return found


def test_restart_kills_orphans_then_reruns_their_jobs(jc: Jobctl) -> None:
    sleep_arg = f"1000.{random.randint(10**5, 10**6)}"
    jc.start_daemon("--node", "n1", "--lease", "60s")
    job_id = jc.enqueue("--", "sh", "-c", f'[ "$JOBCTL_ATTEMPT" = 1 ] && sleep {sleep_arg} || true')
    jc.wait_state(job_id, "running")
    wait_until(lambda: _pids_mentioning(sleep_arg), 10, what="the job's process")
    jc.daemons[0].kill()  # kill -9: the job's process lives on as an orphan
    jc.daemons[0].wait(10)
    assert _pids_mentioning(sleep_arg), "the orphan survives its daemon"
    # Given a lease of 60 s, only the restart's orphan recovery can explain a quick re-run
    jc.start_daemon("--node", "n1", "--lease", "60s")
    job = jc.wait_state(job_id, "succeeded", timeout=20)
    assert [a["failure_class"] for a in job["attempt_log"]] == ["lost", None]
    assert not _pids_mentioning(sleep_arg)


ENQUEUER = """
import random, sys, time
from jobctl import Client
db, log, marker, count, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
rng = random.Random(seed)
script = ('echo "start $JOBCTL_JOB_ID $JOBCTL_ATTEMPT $(date +%s.%N)" >> {log}; sleep $1; '
          'echo "end $JOBCTL_JOB_ID $JOBCTL_ATTEMPT $(date +%s.%N)" >> {log}').format(log=log)
with Client(db) as client:
    for n in range(count):
        client.enqueue(["sh", "-c", script, marker, f"0.0{rng.randint(0, 9)}"], max_attempts=10)
        if n % 25 == 0:
            time.sleep(rng.random() * 0.05)
"""


def _attempt_spans(log: Path) -> dict[int, dict[int, list[float | None]]]:
    spans: dict[int, dict[int, list[float | None]]] = defaultdict(dict)
    for line in log.read_text().splitlines():
        kind, job, attempt, stamp = line.split()
        span = spans[int(job)].setdefault(int(attempt), [None, None])
        span[0 if kind == "start" else 1] = float(stamp)
    return spans


def test_torture_two_daemons_four_enqueuers_five_kill9s(jc: Jobctl) -> None:
    seed = int(os.environ.get("JOBCTL_TORTURE_SEED", random.randrange(10**6)))
    rng = random.Random(seed)
    why = f"(torture seed {seed}; rerun with JOBCTL_TORTURE_SEED={seed})"
    log, marker, per_enqueuer = jc.tmp / "runs.log", f"torture-{seed}", 500
    daemon_args = ("--lease", "3s", "--concurrency", "4", "--grace", "1s")
    victim = jc.start_daemon("--node", "n1", *daemon_args)
    jc.start_daemon("--node", "n2", *daemon_args)
    enqueuers = [
        subprocess.Popen([sys.executable, "-c", ENQUEUER, str(jc.db), str(log), marker,
                          str(per_enqueuer), f"{seed}-{n}"], env=jc.env)
        for n in range(4)
    ]  # fmt: skip
    restarts: list[float] = []
    for _ in range(5):
        time.sleep(rng.uniform(0.5, 3.0))
        victim.kill()
        victim.wait(10)
        restarts.append(time.time())
        victim = jc.start_daemon("--node", "n1", *daemon_args)
    for proc in enqueuers:
        assert proc.wait(120) == 0, why
    total = 4 * per_enqueuer

    def all_terminal() -> bool:
        counts = {q["queue"]: q for q in jc.json("status")["queues"]}["default"]
        return all(counts[k] == 0 for k in ("ready", "running", "retrying", "scheduled"))

    wait_until(all_terminal, 120, 0.5, f"every job terminal {why}")
    jc.stop_daemons()
    con = sqlite3.connect(jc.db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok", why
        rows = con.execute("SELECT id, state, attempts FROM jobs").fetchall()
    finally:
        con.close()
    assert len(rows) == total, why
    assert {state for _, state, _ in rows} == {"succeeded"}, why
    spans = _attempt_spans(log)
    for job_id, _state, attempts in rows:
        runs = spans[job_id]
        # Every succeeded job has an "end" line for its final attempt, and nothing ran after it
        assert runs.get(attempts, [None, None])[1] is not None, f"job {job_id} {runs} {why}"
        assert max(runs) == attempts, f"job {job_id} ran again after succeeding {runs} {why}"
        ordered = [runs[a] for a in sorted(runs)]
        for (start, end), (next_start, _) in itertools.pairwise(ordered):
            assert start is not None and next_start is not None, f"job {job_id} {runs} {why}"
            if end is not None:
                assert end <= next_start, f"job {job_id}: attempts overlap {runs} {why}"
            else:  # killed as an orphan: a restart (which kills orphans first) came in between
                assert any(start < r < next_start for r in restarts), (
                    f"job {job_id}: an unfinished attempt overlaps the next {runs} {why}"
                )
    assert not _pids_mentioning(marker), f"orphan processes remain {why}"
    for index in range(len(jc.daemons)):
        text = jc.daemon_log(index).lower()
        assert "locked" not in text and "store.error" not in text, f"{text[-2000:]} {why}"


GATED = (
    'echo "start $JOBCTL_JOB_ID $JOBCTL_ATTEMPT" >> "$1"; flock -s "$2" true;'
    ' echo "end $JOBCTL_JOB_ID $JOBCTL_ATTEMPT" >> "$1"'
)


def _runs(log: Path) -> dict[int, dict[str, set[int]]]:
    """job id → {"start": attempts, "end": attempts} from the jobs' O_APPEND log."""
    runs: dict[int, dict[str, set[int]]] = defaultdict(lambda: {"start": set(), "end": set()})
    for line in log.read_text().splitlines():
        kind, job, attempt = line.split()
        runs[int(job)][kind].add(int(attempt))
    return runs


@pytest.mark.parametrize("batch", [8, 64])
def test_a_daemon_killed_while_it_spawns_a_batch_never_lets_a_job_run_twice_at_once(
    jc: Jobctl, batch: int
) -> None:
    from jobctl import Client
    from jobctl.config.resolve import EnqueueOptions
    from jobctl.domain.retry import Backoff

    log = jc.tmp / "runs.log"
    log.touch()
    args = ("--node", "n1", "--concurrency", str(batch), "--lease", "60s", "--grace", "1s")
    daemon = jc.start_daemon(*args)
    with Client(jc.db) as client:
        for round_ in range(20):
            gate = jc.tmp / f"gate-{round_}"
            with open(gate, "w") as held:
                # Given a batch of jobs that each record their start, then wait at a closed gate
                fcntl.flock(held, fcntl.LOCK_EX)
                seen = log.stat().st_size
                command = ["sh", "-c", GATED, "gated", str(log), str(gate)]
                ids = [
                    e.id
                    for e in client.enqueue_options(
                        [EnqueueOptions(command=command, backoff=Backoff.FIXED, backoff_base=0)]
                        * batch
                    )
                ]
                # When the daemon is killed as soon as the first of them has started
                wait_until(lambda seen=seen: log.stat().st_size > seen, 30, 0.001, "a start")
                daemon.kill()
                daemon.wait(10)
                # and a successor re-runs every job of the batch as lost
                daemon = jc.start_daemon(*args, registered=False)
                wait_until(
                    lambda ids=ids: all(2 in _runs(log)[i]["start"] for i in ids),
                    60, 0.02, f"round {round_}: the second attempts",
                )  # fmt: skip
            # Then, once the gate opens, only one attempt of each job is left to finish
            wait_until(
                lambda ids=ids: all(client.get(i).state.value == "succeeded" for i in ids),
                60, 0.05, f"round {round_}: the jobs to succeed",
            )  # fmt: skip
            twice = {i: sorted(r["end"]) for i in ids if len((r := _runs(log)[i])["end"]) > 1}
            assert not twice, f"round {round_}: attempts ran at the same time: {twice}"
    jc.stop_daemons()
    twice = {i: sorted(r["end"]) for i, r in _runs(log).items() if len(r["end"]) > 1}
    assert not twice, f"attempts ran at the same time: {twice}"
    assert not _pids_mentioning(str(log)), "no job process is left"
