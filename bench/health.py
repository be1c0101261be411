"""`jobctl health` on a big history: a DB with 1,000,000 succeeded jobs (bench/million.py's
layout) whose jobs belong to 50 schedules, plus dead letters, against a baseline DB with only
1000 queued jobs and the same schedules, interleaved. Target: under 1 s on the big DB.

    /tmp/devvenv/bin/python bench/health.py [--quick]

--quick uses 100,000 finished jobs.
"""

from __future__ import annotations

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
)
from million import build

from jobctl.clock import utcnow
from jobctl.config.model import Config
from jobctl.config.schedules import build_schedule
from jobctl.ops.health import check_url
from jobctl.store import open_store

SCHEDULES = 50


def add_schedules(path: Path) -> None:
    """50 schedules (every minute … hourly); the finished jobs spread over them, and the
    daemon registry and a few dead letters, so every probe has work to do."""
    store = open_store(str(path))
    now = utcnow()
    for i in range(SCHEDULES):
        cron = "* * * * *" if i % 2 else f"{i % 60} * * * *"
        s = build_schedule(f"sched-{i}", {"cron": cron, "tz": "UTC", "command": ["true"]})
        store.schedules.add(s, now)
    store.close()
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("BEGIN")
    conn.execute(
        f"UPDATE jobs SET schedule = 'sched-' || (id % {SCHEDULES}) WHERE state = 'succeeded'"
    )
    conn.execute(
        "INSERT INTO dlq (job_id, queue, failure_class, error, created_at)"
        " SELECT id, queue, 'exit', 'bench', ? FROM jobs WHERE state = 'succeeded' LIMIT 100",
        (time.time() - 600,),
    )
    conn.execute(
        "INSERT INTO daemons (id, node, host, pid, started_at, heartbeat_at, heartbeat_interval)"
        " VALUES ('bench:1:x', 'bench', 'bench', 1, ?, ?, 1e9)",
        (time.time(), time.time()),
    )
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def main() -> None:
    args = parser(__doc__).parse_args()
    finished, rounds = (100_000, 3) if args.quick else (1_000_000, 7)
    say(machine_line())
    with fresh_dir() as tmp:
        big, small = tmp / "big.db", tmp / "small.db"
        section(f"building: {finished:,} succeeded in {SCHEDULES} schedules + 1000 queued")
        built = build(big, finished, 1000, 24 * 3600)
        add_schedules(big)
        say(f"big DB built in {built:.1f} s, {big.stat().st_size / 1e6:.0f} MB")
        build(small, 0, 1000, 0)
        add_schedules(small)
        env = isolated_env(tmp)

        def in_process(db: Path) -> object:
            return check_url(str(db), Config(), utcnow())

        def cli(db: Path) -> object:
            argv = [JOBCTL, "--db", str(db), "-o", "json", "health"]
            return subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, check=False)

        def startup(db: Path) -> object:
            argv = [JOBCTL, "--db", str(db), "--version"]
            return subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, check=False)

        section(f"health, {rounds} rounds interleaved (ms)")
        worst = 0.0
        ops = (
            ("ops.health.check_url", in_process),
            ("jobctl -o json health", cli),
            ("jobctl --version (info: CLI start-up, no DB)", startup),
        )
        for name, op in ops:
            res = interleave(
                rounds,
                {
                    "small": lambda op=op: timed(lambda: op(small)),
                    "big": lambda op=op: timed(lambda: op(big)),
                },
                label=f"{name} ",
            )
            med_big, med_small = statistics.median(res["big"]), statistics.median(res["small"])
            if "(info" not in name:
                worst = max(worst, med_big)
            say(
                f"{name}\n  big   {spread(res['big'], 1e3, '.2f')}\n"
                f"  small {spread(res['small'], 1e3, '.2f')}\n"
                f"  big/small x{med_big / med_small:.2f}"
                f"  {'PASS' if med_big < 1.0 else 'FAIL'} (target < 1000 ms)"
            )
        report = check_url(str(big), Config(), utcnow())
        say(
            "probes on the big DB: " + ", ".join(f"{p.name}={p.status.name}" for p in report.probes)
        )
        say(f"slowest median on the big DB: {worst * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
