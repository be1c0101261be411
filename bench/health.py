"""`jobctl health` on a big history: a DB with 1,000,000 succeeded jobs (bench/million.py's
layout) whose jobs belong to 50 schedules, plus dead letters, against a baseline DB with only
1000 queued jobs and the same schedules, interleaved. Target: under 1 s on the big DB.

Then `jobctl -o json health` with 10 dependency probes (health.probes), one of them slow
(a command taking 1.5 s), the others quick (Redis, PostgreSQL and MariaDB when they
answer on this machine, TCP, commands, a disk). The probes run in parallel, so the
whole command (start-up, jobctl's own probes and the DB included) takes about the slowest
probe: target <= 1.2 x 1.5 s.

    /tmp/devvenv/bin/python bench/health.py [--quick] [--probes]

--quick uses 100,000 finished jobs; --probes runs only the dependency-probe part.
"""

from __future__ import annotations

import socket
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
from million import build

from jobctl.clock import utcnow
from jobctl.config.model import Config
from jobctl.config.schedules import build_schedule
from jobctl.ops.health import check_url
from jobctl.store import open_store

SCHEDULES = 50
SLOW = 1.5  # seconds the slow probe takes
SERVICES = {  # the machine's own, probed when they answer
    "redis": ("127.0.0.1", 6379, "redis://127.0.0.1:6379/0"),
    "postgres": ("127.0.0.1", 5432, "postgresql://postgres@127.0.0.1:5432/postgres"),
    "mysql": ("127.0.0.1", 3306, "mysql://root@127.0.0.1:3306/test"),
}


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


def _answers(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return False
    return True


def probes_config(tmp: Path, listening: int) -> Path:
    """Ten probes: one slow command, the machine's services that answer, and quick local
    ones to make up ten."""
    lines = [f"    - {{name: slow, command: [sleep, '{SLOW}'], timeout: 5s}}"]
    for kind, (host, port, url) in SERVICES.items():
        if _answers(host, port):
            lines.append(f"    - {{name: {kind}, {kind}: '{url}'}}")
    quick = [
        f"{{name: port, tcp: '127.0.0.1:{listening}'}}",
        f"{{name: tmp, disk: {tmp}}}",
        "{name: plugin, command: [sh, -c, 'echo OK; exit 0']}",
    ]
    lines += [f"    - {p}" for p in quick]
    n = 0
    while len(lines) < 10:
        n += 1
        lines.append(f"    - {{name: true-{n}, command: ['true']}}")
    path = tmp / "probes.yaml"
    path.write_text("health:\n  probes:\n" + "\n".join(lines) + "\n")
    return path


def bench_probes(rounds: int) -> None:
    section(f"jobctl -o json health with 10 dependency probes, one taking {SLOW} s")
    listener = socket.create_server(("127.0.0.1", 0), backlog=128)
    try:
        with fresh_dir() as tmp:
            config = probes_config(tmp, listener.getsockname()[1])
            db = tmp / "jobctl.db"
            build(db, 0, 100, 0)
            env = isolated_env(tmp, JOBCTL_CONFIG=str(config))
            argv = [JOBCTL, "--db", str(db), "-o", "json", "health"]
            shown = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
            say("probes: " + ", ".join(_statuses(shown.stdout)))
            bare = isolated_env(tmp)  # no config: start-up and jobctl's own probes only

            def run(environ: dict[str, str]) -> float:
                return timed(lambda: subprocess.run(argv, env=environ, capture_output=True))

            res = interleave(
                rounds,
                {"10 probes": lambda: run(env), "no probes": lambda: run(bare)},
                "health ",
            )
            with_probes, without = res["10 probes"], res["no probes"]
            ratio = statistics.median(with_probes) / SLOW
            added = statistics.median(with_probes) - statistics.median(without)
            say(f"with 10 probes: {spread(with_probes, 1e3, '.0f')} ms")
            say(f"no probes (start-up + own probes): {spread(without, 1e3, '.0f')} ms")
            say(f"ratio to the slowest probe: x{ratio:.2f}  {verdict(ratio, 1.2, False)}")
            say(f"(info) the probes add {added * 1e3:.0f} ms to the command: x{added / SLOW:.2f}")
    finally:
        listener.close()


def _statuses(out: str) -> list[str]:
    import json

    return [f"{p['name']}={p['status']}" for p in json.loads(out)["probes"]]


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--probes", action="store_true", help="only the dependency-probe part")
    args = p.parse_args()
    if args.probes:
        say(machine_line())
        bench_probes(3 if args.quick else 7)
        return
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
    bench_probes(3 if args.quick else 7)


if __name__ == "__main__":
    main()
