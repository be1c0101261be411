"""Batched dispatch (issue 16): live-daemon drains against their baselines, in one run.

(b) 2000 no-op handler jobs, live daemon with --concurrency 1 and 4, vs the raw claim+finish
    loop (one transaction each, 1 and 4 processes; bench/drain.py's). Target >= 0.5 of raw.
    Ceiling beside it: the same loop on jobctl's DB and statements with one transaction per
    job holding the finish and the next claim (what a tick of one slot costs with no Python).
(a) 2000 `true` jobs, live daemon --concurrency 4, vs `seq 2000 | xargs -P4 -n1 true`.
    Target >= 0.8 of xargs. Plus the daemon's CPU per `true` job (user + system, µs).

Medians of interleaved rounds with their spread. Reuses bench/drain.py's subjects. With
`--compare JOBCTL` (another install's console script, e.g. main's venv) that daemon drains the
same jobs in the same rounds ("before"), so the change is measured under the same load.

    .venv/bin/python bench/dispatch.py [--quick] [--rounds N] [--only a,b] [--compare JOBCTL]
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import statistics
import time
from collections.abc import Callable
from multiprocessing.synchronize import Event

import drain
import psutil
from _common import (
    fresh_dir,
    interleave,
    machine_line,
    parser,
    ratio_line,
    say,
    section,
    spread,
    wait_for,
)
from drain import (
    SCHEMA_ATTEMPT,
    SCHEMA_ATTEMPT_END,
    SCHEMA_CLAIM,
    SCHEMA_FINISH,
    _schema_db,
    daemon_noop,
    last_finished,
    live_daemon,
    paused_jobs,
    prepare,
    raw_loop,
    succeeded,
    xargs_true,
)

from jobctl import Client


def _tick_worker(path: str, go: Event) -> None:
    """One slot's loop with jobctl's statements: each transaction finishes the previous job
    and claims the next (a daemon tick with one slot, no Python of ours)."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=10)
    conn.execute("PRAGMA synchronous = NORMAL")
    go.wait()
    row = None
    while True:
        now = time.time()
        conn.execute("BEGIN IMMEDIATE")
        if row is not None:
            conn.execute(SCHEMA_FINISH, (now, row[0]))
            conn.execute(SCHEMA_ATTEMPT_END, (now, row[0], row[1]))
        row = conn.execute(SCHEMA_CLAIM, (now, now, now)).fetchone()
        if row is not None:
            conn.execute(SCHEMA_ATTEMPT, (row[0], row[1], row[2], row[3], now))
        conn.execute("COMMIT")
        if row is None:
            return


def tick_loop(n: int) -> float:
    """Seconds for one process to drain n jobs with one transaction per job (finish+claim)."""
    with fresh_dir() as tmp:
        path, table, _ = _schema_db(tmp, n)
        ctx = multiprocessing.get_context("fork")
        go = ctx.Event()
        proc = ctx.Process(target=_tick_worker, args=(str(path), go))
        proc.start()
        time.sleep(0.1)
        started = time.time()
        go.set()
        proc.join()
        if proc.exitcode != 0:
            raise SystemExit(f"tick loop failed: exit {proc.exitcode}")
        return last_finished(path, table) - started


def daemon_true_cpu(n: int, cpu: list[float]) -> float:
    """As drain.daemon_true (resume of a paused queue to the last finish), also appending the
    daemon's CPU seconds spent on the drain (children excluded) to `cpu`."""
    with fresh_dir() as tmp:
        db, env = prepare(tmp)
        paused_jobs(tmp, db, n, command=["true"])
        try:
            with live_daemon(tmp, db, env, 4) as pid, Client(db) as client:
                proc = psutil.Process(pid)
                time.sleep(0.3)
                before = proc.cpu_times()
                started = time.time()
                client.pause_queue("default", paused=False)
                if not wait_for(lambda: succeeded(db) >= n, 300, 0.01):
                    raise SystemExit(f"the daemon finished {succeeded(db)} of {n} jobs in 300 s")
                after = proc.cpu_times()
        except SystemExit:
            say((tmp / "daemon.log").read_text(errors="replace")[-2000:])  # why, before it goes
            raise
        cpu.append((after.user - before.user) + (after.system - before.system))
        return last_finished(db) - started


def with_jobctl(binary: str | None, run: Callable[[], float]) -> Callable[[], float]:
    """`run` with the daemon started from `binary` (None: this install's)."""
    if binary is None:
        return run

    def swapped() -> float:
        own, drain.JOBCTL = drain.JOBCTL, binary
        try:
            return run()
        finally:
            drain.JOBCTL = own

    return swapped


def part_b(rounds: int, n: int, compare: str | None) -> None:
    section(f"(b) {n} no-op handler jobs: live daemon vs raw claim+finish loop ({rounds} rounds)")
    for workers in (1, 4):
        subjects = {
            "raw": lambda w=workers: raw_loop(n, w),
            "daemon": lambda w=workers: daemon_noop(n, w),
        }
        if compare:
            subjects["before"] = with_jobctl(compare, lambda w=workers: daemon_noop(n, w))
        if workers == 1:
            subjects["tick"] = lambda: tick_loop(n)
        res = interleave(rounds, subjects, label=f"{workers} worker(s) ")
        for name in subjects:
            rate = n / statistics.median(res[name])
            say(f"{workers} worker(s) {name:6}: {spread(res[name])} s  ({rate:,.0f} jobs/s)")
        say(
            ratio_line(f"{workers} worker(s) daemon/raw throughput", res["daemon"], res["raw"], 0.5)
        )
        if "tick" in res:
            ceiling = statistics.median(res["raw"]) / statistics.median(res["tick"])
            say(
                "  (ceiling) one transaction per job (finish + next claim) on jobctl's DB and"
                f" statements, raw sqlite3, no Python of ours: ratio {ceiling:.3f} of raw"
            )


def part_a(rounds: int, n: int, compare: str | None) -> None:
    section(f"(a) {n} `true` jobs: live daemon --concurrency 4 vs xargs -P 4 ({rounds} rounds)")
    cpu: list[float] = []
    cpu_before: list[float] = []
    subjects = {"xargs": lambda: xargs_true(n), "daemon": lambda: daemon_true_cpu(n, cpu)}
    if compare:
        subjects["before"] = with_jobctl(compare, lambda: daemon_true_cpu(n, cpu_before))
    res = interleave(rounds, subjects)
    for name in subjects:
        say(f"{name:7}: {spread(res[name])} s  ({n / statistics.median(res[name]):,.0f} jobs/s)")
    say(ratio_line("daemon/xargs throughput", res["daemon"], res["xargs"], 0.8))
    if "before" in res:
        before = statistics.median(res["xargs"]) / statistics.median(res["before"])
        say(f"  (before) --compare daemon/xargs throughput: {before:.3f}")
    for label, spent in (("daemon", cpu), ("before", cpu_before)):
        if spent:
            per_job = [c / n * 1e6 for c in spent]
            say(
                f"{label} CPU per `true` job (user+sys, children excluded):"
                f" {spread(per_job, 1, '.0f')} µs"
            )


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--only", default="b,a", help="comma-separated parts to run")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--compare", help="another install's jobctl console script to run beside")
    args = p.parse_args()
    rounds, n = (2, 500) if args.quick else (args.rounds, 2000)
    say(machine_line())
    parts = args.only.split(",")
    if "b" in parts:
        part_b(rounds, n, args.compare)
    if "a" in parts:
        part_a(rounds, n, args.compare)
    say(machine_line())


if __name__ == "__main__":
    main()
