"""Reads and claims on a big history: a DB with 1,000,000 succeeded jobs (one attempt row
each, finished over the last --span-hours) plus 1000 queued, against a baseline DB holding
only the 1000 queued jobs, interleaved. Each call opens a fresh Client (as the CLI does).
Target: every operation well under 1 s on the big DB (health will need < 1 s).

    /tmp/devvenv/bin/python bench/million.py [--quick] [--span-hours 24]

--quick uses 100,000 finished jobs.
"""

from __future__ import annotations

import sqlite3
import statistics
import subprocess
import time
from collections.abc import Callable
from datetime import timedelta
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
)

from jobctl import Client
from jobctl.clock import utcnow
from jobctl.store import open_store
from jobctl.store.repos.dispatch import Claim

HOUR = timedelta(hours=1)
QUEUES = ("default", "mail", "reports", "etl")
COLUMNS = (
    "queue, state, command, priority, run_at, created_at, started_at, finished_at, attempts,"
    " max_attempts, backoff, backoff_base, backoff_max, jitter, exit_code"
)


def build(path: Path, finished: int, queued: int, span: float) -> float:
    """Create the schema through jobctl, then fill it with raw SQL in one transaction."""
    started = time.perf_counter()
    open_store(str(path)).close()
    now = time.time()
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    if finished:
        step = span / finished
        conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)"
            f" INSERT INTO jobs ({COLUMNS})"
            " SELECT CASE i % 4 WHEN 0 THEN 'default' WHEN 1 THEN 'mail' WHEN 2 THEN 'reports'"
            "   ELSE 'etl' END, 'succeeded', '[\"true\"]', 0, t, t, t + 0.5, t + 1.5, 1,"
            "   5, 'exponential', 10.0, 3600.0, 'full', 0"
            " FROM (SELECT i, ? + i * ? AS t FROM n)",
            (finished, now - span - 60, step),
        )
        conn.execute(
            "INSERT INTO attempts (job_id, attempt, queue, node, runner, due_at, started_at,"
            " finished_at, exit_code, duration, log_path)"
            " SELECT id, 1, queue, 'bench', 'bench:1:x', run_at, started_at, finished_at, 0, 1.0,"
            " '/nonexistent/' || id || '.log' FROM jobs"
        )
    conn.execute(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)"
        f" INSERT INTO jobs ({COLUMNS})"
        " SELECT 'default', 'queued', '[\"true\"]', 0, ? + i * 0.001, ? + i * 0.001, NULL, NULL,"
        " 0, 5, 'exponential', 10.0, 3600.0, 'full', NULL FROM n",
        (queued, now - 5, now - 5),
    )
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return time.perf_counter() - started


def operations(env: dict[str, str]) -> dict[str, Callable[[Path], object]]:
    def client_op(fn: Callable[[Client], object]) -> Callable[[Path], object]:
        def op(db: Path) -> object:
            with Client(db) as client:
                return fn(client)

        return op

    def claim(client: Client) -> object:
        jobs = client.store.dispatch.claim(Claim("bench:1:x", "bench", 1, 30.0), utcnow())
        assert len(jobs) == 1, "nothing claimed"
        return jobs

    def cli_status(db: Path) -> object:
        argv = [JOBCTL, "--db", str(db), "-o", "json", "status"]
        return subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)

    return {
        "Client.status()": client_op(lambda c: c.status()),
        "Client.list(limit=100)": client_op(lambda c: c.list(limit=100)),
        'Client.list(states=["queued"])': client_op(lambda c: c.list(states=["queued"])),
        'Client.list(states=["dead"]) (info)': client_op(lambda c: c.list(states=["dead"])),
        "Client.list(since=1h)": client_op(lambda c: c.list(since=utcnow() - HOUR)),
        'Client.list(since=1h, states=["dead"])': client_op(
            lambda c: c.list(states=["dead"], since=utcnow() - HOUR)
        ),
        "dispatch.claim (1 slot)": client_op(claim),
        "jobctl -o json status (CLI)": cli_status,
    }


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--span-hours", type=float, default=24.0, help="history spread (hours)")
    args = p.parse_args()
    finished, rounds = (100_000, 3) if args.quick else (1_000_000, 7)
    say(machine_line())
    with fresh_dir() as tmp:
        big, small = tmp / "big.db", tmp / "small.db"
        section(f"building: {finished:,} succeeded + 1000 queued, and 1000 queued only")
        say(
            f"big DB built in {build(big, finished, 1000, args.span_hours * 3600):.1f} s,"
            f" {big.stat().st_size / 1e6:.0f} MB"
        )
        build(small, 0, 1000, 0)
        env = isolated_env(tmp)
        section(f"per operation, fresh Client each call ({rounds} rounds, ms)")
        worst = 0.0
        for name, op in operations(env).items():
            res = interleave(
                rounds,
                {
                    "small": lambda op=op: timed(lambda: op(small)),
                    "big": lambda op=op: timed(lambda: op(big)),
                },
                label=f"{name} ",
            )
            med_big, med_small = statistics.median(res["big"]), statistics.median(res["small"])
            if "(info)" not in name:
                worst = max(worst, med_big)
            verdict = "PASS" if med_big < 1.0 else "FAIL"
            say(
                f"{name}\n  big   {spread(res['big'], 1e3, '.2f')}\n"
                f"  small {spread(res['small'], 1e3, '.2f')}\n"
                f"  big/small x{med_big / med_small:.2f}  {verdict} (target < 1000 ms)"
            )
        say(
            f"slowest targeted median on the big DB: {worst * 1e3:.1f} ms"
            f"  {'PASS' if worst < 1.0 else 'FAIL'} (target < 1000 ms each)"
        )


if __name__ == "__main__":
    main()
