"""Wrapper overhead and DLQ replay throughput.

1. `true` run bare, under `jobctl once run NAME -- true` (a fresh NAME each round, so it
   really runs) and under `jobctl lock NAME -- true`, against `jobctl lock list` (the CLI's
   own start-up + DB open), interleaved. Reports the time each wrapper adds to a bare `true`
   and to the CLI start-up (target: the wrapper itself adds <= 60 ms), in wall time and in
   CPU time (user + system, steadier on a loaded machine).
2. `jobctl dlq replay --all` of N dead letters (default 100,000; --quick 10,000) against
   `jobctl enqueue --from FILE.jsonl` of N jobs (the same number of new jobs, bulk path).

    /tmp/devvenv/bin/python bench/once_lock.py [--quick]
"""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import statistics
import subprocess
import time
from pathlib import Path

from _common import (
    JOBCTL,
    fresh_dir,
    interleave,
    isolated_env,
    machine_line,
    parser,
    say,
    section,
    spread,
    timed,
    verdict,
)

from jobctl.store import open_store

WRAPPER_TARGET_MS = 60.0


def run(argv: list[str], env: dict[str, str]) -> float:
    return timed(lambda: subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL))


def cpu(argv: list[str], env: dict[str, str]) -> float:
    """CPU seconds (user + system) of the process and the children it reaped: less at the
    mercy of a loaded machine than wall time."""
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, argv)
    return usage.ru_utime + usage.ru_stime


def wrappers(tmp: Path, rounds: int, measure=run, unit: str = "wall") -> None:
    section(f"wrapper overhead ({unit} time): `true`, {rounds} interleaved rounds")
    env = isolated_env(tmp, JOBCTL_DB=str(tmp / f"w-{unit}.db"))
    names = itertools.count()
    run([JOBCTL, "lock", "list"], env)  # create the DB first
    times = interleave(
        rounds,
        {
            "bare": lambda: measure(["true"], env),
            "cli": lambda: measure([JOBCTL, "lock", "list"], env),
            "once": lambda: measure([JOBCTL, "once", "run", f"n{next(names)}", "--", "true"], env),
            "lock": lambda: measure([JOBCTL, "lock", "bench", "--", "true"], env),
        },
        label=f"{unit} ",
    )
    for name, values in times.items():
        say(f"{name:5} {spread(values, 1000, '.1f')} ms")
    bare, cli = statistics.median(times["bare"]), statistics.median(times["cli"])
    for name in ("once", "lock"):
        med = statistics.median(times[name])
        added = (med - cli) * 1000
        say(
            f"{name}: adds {(med - bare) * 1000:.1f} ms to a bare `true` "
            f"({med / bare:.1f}x); {added:.1f} ms over the CLI start-up "
            f"{verdict(added, WRAPPER_TARGET_MS, higher_is_better=False)}"
        )


def dead_letters(path: Path, count: int) -> None:
    """A DB with `count` dead jobs, each with its DLQ entry (raw SQL, one transaction)."""
    open_store(str(path)).close()
    now = time.time() - 3600
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    conn.execute(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)"
        " INSERT INTO jobs (queue, state, command, payload, run_at, created_at, finished_at,"
        " attempts, max_attempts, backoff, backoff_base, backoff_max, jitter, exit_code,"
        " failure_class) SELECT 'default', 'dead', '[\"true\"]', '{\"i\": ' || i || '}',"
        " ?, ?, ?, 1, 1, 'exponential', 10.0, 3600.0, 'full', 3, 'exit' FROM n",
        (count, now, now, now),
    )
    conn.execute(
        "INSERT INTO dlq (job_id, queue, failure_class, error, payload, created_at)"
        " SELECT id, queue, 'exit', 'exited with code 3', payload, finished_at FROM jobs"
    )
    conn.execute("UPDATE jobs SET dlq_id = (SELECT id FROM dlq WHERE dlq.job_id = jobs.id)")
    conn.execute("COMMIT")
    conn.close()


def replay(tmp: Path, count: int, rounds: int) -> None:
    section(f"dlq replay --all of {count:,} entries vs enqueue --from of {count:,} jobs")
    jsonl = tmp / "jobs.jsonl"
    jsonl.write_text(
        "".join(json.dumps({"command": ["true"], "payload": {"i": i}}) + "\n" for i in range(count))
    )
    replays, enqueues = [], []
    for n in range(rounds):
        db = tmp / f"r{n}.db"
        dead_letters(db, count)
        env = isolated_env(tmp, JOBCTL_DB=str(db))
        replays.append(run([JOBCTL, "-o", "json", "dlq", "replay", "--all"], env))
        base = tmp / f"e{n}.db"
        open_store(str(base)).close()
        env = isolated_env(tmp, JOBCTL_DB=str(base))
        enqueues.append(run([JOBCTL, "-o", "json", "enqueue", "--from", str(jsonl)], env))
        say(f"  round {n + 1}/{rounds}: replay {replays[-1]:.2f}s enqueue {enqueues[-1]:.2f}s")
    say(f"replay  {spread(replays, 1, '.2f')} s ({count / statistics.median(replays):,.0f}/s)")
    say(f"enqueue {spread(enqueues, 1, '.2f')} s ({count / statistics.median(enqueues):,.0f}/s)")
    ratio = statistics.median(replays) / statistics.median(enqueues)
    say(f"replay / enqueue time ratio {ratio:.2f}")


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--no-replay", action="store_true", help="only the wrapper overhead")
    args = p.parse_args()
    say(machine_line())
    with fresh_dir() as tmp:
        wrappers(tmp, 5 if args.quick else 20)
        wrappers(tmp, 5 if args.quick else 20, cpu, "cpu")
        if not args.no_replay:
            replay(tmp, 10_000 if args.quick else 100_000, 1 if args.quick else 3)


if __name__ == "__main__":
    main()
