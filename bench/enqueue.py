"""Enqueue cost against raw sqlite3 on the same machine, same run, interleaved rounds.

(a) single: `Client(db, Config(durability=...)).enqueue(["true"])`, one job per call (its own
    transaction), vs a raw WAL connection doing BEGIN IMMEDIATE / INSERT ~200-byte row / COMMIT,
    at the same `synchronous` (FULL = default durability, NORMAL = durability "fast").
    Target: Client throughput >= 0.5 of raw.
    Also timed: "schema", the same raw loop inserting the row Client.enqueue writes (its
    columns and values) into a DB with jobctl's schema and indexes: what the SQL alone costs,
    with no Python of ours, so schema/raw is the ceiling of client/raw.
(b) bulk: `Client.enqueue_options([1000 EnqueueOptions])` (the in-process equivalent of
    `jobctl enqueue --from FILE.jsonl`) vs raw executemany of 1000 rows in one transaction.
    Target >= 0.3 of raw; "schema" again shows the ceiling. The CLI subprocess wall time
    for the same 1000-line file is reported too (informational, against the same raw).

    /tmp/devvenv/bin/python bench/enqueue.py [--quick] [--only a,b]
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import subprocess
from collections.abc import Callable
from pathlib import Path

from _common import (
    JOBCTL,
    ceiling_line,
    fresh_dir,
    interleave,
    isolated_env,
    machine_line,
    parser,
    ratio_line,
    say,
    section,
    spread,
    timed,
)

from jobctl import Client
from jobctl.config.model import Config
from jobctl.config.resolve import EnqueueOptions, build_spec
from jobctl.store.records import spec_values
from jobctl.store.repos.jobs import INSERT_QUEUED

BODY = json.dumps({"command": ["true"], "queue": "default", "pad": "x" * 150})  # ~200 bytes
SYNC = {"full": "FULL", "fast": "NORMAL"}


def raw_connect(path: Path, synchronous: str) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, state TEXT NOT NULL,"
        " body TEXT NOT NULL, created_at REAL NOT NULL)"
    )
    return conn


CEILING = "jobctl's INSERT into its schema and indexes"
RAW_INSERT = "INSERT INTO t (state, body, created_at) VALUES ('queued', ?, ?)"


def raw_rows(n: int) -> list[tuple[object, ...]]:
    return [(BODY, float(i)) for i in range(n)]


def job_rows(n: int) -> list[tuple[object, ...]]:
    """The column values Client.enqueue(["true"]) writes, n times (the store's INSERT order)."""
    return [spec_values(build_spec(EnqueueOptions(command=["true"]), Config()), 1.0)] * n


def schema_connect(path: Path, synchronous: str) -> sqlite3.Connection:
    """A raw connection to a DB that jobctl created (its schema and indexes)."""
    Client(path).store.close()
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    return conn


def single_inserts(
    connect: Callable[[Path, str], sqlite3.Connection],
    sql: str,
    rows: list[tuple[object, ...]],
    synchronous: str,
) -> float:
    """Seconds per row, each inserted in its own BEGIN IMMEDIATE / INSERT / COMMIT."""
    with fresh_dir() as tmp:
        conn = connect(tmp / "bench.db", synchronous)
        try:

            def work() -> None:
                for row in rows:
                    conn.execute("BEGIN IMMEDIATE")
                    conn.execute(sql, row)
                    conn.execute("COMMIT")

            return _per_op(work, len(rows))
        finally:
            conn.close()


def bulk_insert(
    connect: Callable[[Path, str], sqlite3.Connection], sql: str, rows: list[tuple[object, ...]]
) -> float:
    """Seconds to insert all rows in one transaction (synchronous=FULL)."""
    with fresh_dir() as tmp:
        conn = connect(tmp / "bench.db", "FULL")
        try:

            def work() -> None:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(sql, rows)
                conn.execute("COMMIT")

            return timed(work)
        finally:
            conn.close()


def client_single(n: int, durability: str) -> float:
    with fresh_dir() as tmp, Client(tmp / "jobs.db", Config(durability=durability)) as client:
        client.store  # noqa: B018  (open + migrate before timing)
        return _per_op(lambda: [client.enqueue(["true"]) for _ in range(n)], n)


def client_bulk(n: int) -> float:
    with fresh_dir() as tmp, Client(tmp / "jobs.db") as client:
        client.store  # noqa: B018
        options = [EnqueueOptions(command=["true"]) for _ in range(n)]
        return timed(lambda: client.enqueue_options(options))


def cli_bulk(n: int) -> float:
    with fresh_dir() as tmp:
        src = tmp / "jobs.jsonl"
        src.write_text("".join(json.dumps({"command": ["true"]}) + "\n" for _ in range(n)))
        db = tmp / "jobs.db"
        env = isolated_env(tmp)
        Client(db).store.close()  # the DB exists (`status` no longer creates one)
        return timed(
            lambda: subprocess.run(
                [JOBCTL, "--db", str(db), "-q", "enqueue", "--from", str(src)],
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
        )


def _per_op(fn: Callable[[], object], n: int) -> float:
    return timed(fn) / n


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--only", default="a,b", help="comma-separated parts to run")
    args = p.parse_args()
    parts = set(args.only.split(","))
    rounds, n_single, n_bulk = (2, 200, 1000) if args.quick else (9, 1000, 1000)
    say(machine_line())
    if "a" in parts:
        single(rounds, n_single)
    if "b" in parts:
        bulk(rounds, n_bulk)
    say(machine_line())


def single(rounds: int, n_single: int) -> None:
    section(f"(a) single-job transactions: {n_single} per round, {rounds} rounds (us per job)")
    for durability, sync in SYNC.items():
        res = interleave(
            rounds,
            {
                "raw": lambda s=sync: single_inserts(
                    raw_connect, RAW_INSERT, raw_rows(n_single), s
                ),
                "client": lambda d=durability: client_single(n_single, d),
                "schema": lambda s=sync: single_inserts(
                    schema_connect, INSERT_QUEUED, job_rows(n_single), s
                ),
            },
            label=f"{sync} ",
        )
        for name in ("raw", "client", "schema"):
            per_s = 1 / statistics.median(res[name])
            say(
                f"synchronous={sync:6} {name:6}: {spread(res[name], 1e6, '.1f')} us/job"
                f"  ({per_s:,.0f} jobs/s)"
            )
        say(ratio_line(f"synchronous={sync} client/raw throughput", res["client"], res["raw"], 0.5))
        say(ceiling_line(CEILING, res["schema"], res["raw"]))


def bulk(rounds: int, n_bulk: int) -> None:
    section(f"(b) bulk: {n_bulk} jobs in one transaction, {rounds} rounds (ms per batch)")
    res = interleave(
        rounds,
        {
            "raw": lambda: bulk_insert(raw_connect, RAW_INSERT, raw_rows(n_bulk)),
            "client": lambda: client_bulk(n_bulk),
            "cli": lambda: cli_bulk(n_bulk),
            "schema": lambda: bulk_insert(schema_connect, INSERT_QUEUED, job_rows(n_bulk)),
        },
        label="bulk ",
    )
    for name in ("raw", "client", "cli", "schema"):
        rate = n_bulk / statistics.median(res[name])
        say(f"{name:6}: {spread(res[name], 1e3, '.1f')} ms  ({rate:,.0f} jobs/s)")
    say(ratio_line("bulk Client.enqueue_options/raw throughput", res["client"], res["raw"], 0.3))
    say(ceiling_line(CEILING, res["schema"], res["raw"]))
    say(
        ratio_line(
            "bulk Client.enqueue_options/schema (raw INSERT into jobctl's schema) throughput",
            res["client"],
            res["schema"],
            0.7,
        )
    )
    ratio = statistics.median(res["raw"]) / statistics.median(res["cli"])
    say(
        f"bulk CLI `enqueue --from` (subprocess wall)/raw throughput: ratio {ratio:.3f}"
        " (informational: includes interpreter start and imports)"
    )


if __name__ == "__main__":
    main()
