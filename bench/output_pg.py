"""Attempt output kept in the store on PostgreSQL: what it costs the daemon.

The same in-process daemon (concurrency 4) drains N command jobs from a PostgreSQL store
twice per round, interleaved: with output kept in the store (what PostgreSQL does: pushed
about once a second, the rest with the finish, spool file removed) and, as the baseline,
with output left in local files only (`keeps_output` switched off: what SQLite does).
(a) jobs that print nothing: keeping output must cost nothing (target >= 0.95 of files);
(b) jobs that print ~1 KiB (`seq 1 250`): target >= 0.8 of files.
Each figure is a throughput ratio (baseline time / subject time, medians over the rounds).

    .venv/bin/python bench/output_pg.py [--quick] [--url postgresql://postgres@127.0.0.1/postgres]
"""

from __future__ import annotations

import io
import random
import uuid
from pathlib import Path

import psycopg
from _common import fresh_dir, interleave, machine_line, parser, ratio_line, say, section, spread

from jobctl.clock import SystemClock
from jobctl.config.model import Config
from jobctl.domain.job import JobSpec
from jobctl.runtime.daemon import Daemon, DaemonOptions
from jobctl.runtime.eventlog import EventLog
from jobctl.runtime.launch import LaunchContext
from jobctl.store import open_store

SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def drain_once(url: str, spool: Path, argv: list[str], jobs: int, keep: bool) -> float:
    """Seconds for a fresh daemon to run `jobs` jobs of `argv` (enqueued before it starts)."""
    store = open_store(url)
    store.keeps_output = keep  # type: ignore[misc]  # off: the baseline (files only)
    try:
        store.jobs.enqueue([JobSpec(command=argv) for _ in range(jobs)], store.now())
        ctx = LaunchContext(url, "bench", spool, 10 << 20, {"PATH": "/bin:/usr/bin"})
        daemon = Daemon(
            store, Config(), DaemonOptions(node="bench", concurrency=4), SystemClock(),
            EventLog("logfmt", io.StringIO()), ctx, rng=random.Random(1),
        )  # fmt: skip
        clock = SystemClock()
        started = clock.monotonic()
        daemon.start()
        daemon.run_until_idle()
        elapsed = clock.monotonic() - started
        daemon.drain()
        daemon.close()
        return elapsed
    finally:
        store.close()


class Runner:
    """One subject's run: a fresh schema (recorded, to drop) and spool directory each."""

    def __init__(self, url: str, tmp: Path, argv: list[str], jobs: int, schemas: list[str]):
        self.url, self.tmp, self.argv, self.jobs, self.schemas = url, tmp, argv, jobs, schemas

    def _run(self, keep: bool) -> float:
        schema = f"bench_output_{uuid.uuid4().hex[:10]}"
        self.schemas.append(schema)
        url = f"{self.url}?schema={schema}"
        return drain_once(url, self.tmp / schema, self.argv, self.jobs, keep)

    def kept(self) -> float:
        return self._run(True)

    def files(self) -> float:
        return self._run(False)


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--url", default=SERVER, help="a PostgreSQL server (a schema per run)")
    args = p.parse_args()
    rounds, jobs = (3, 60) if args.quick else (7, 300)
    say(machine_line())
    with fresh_dir() as tmp, psycopg.connect(args.url, autocommit=True) as admin:
        for title, argv, target in (
            ("(a) jobs that print nothing", ["true"], 0.95),
            ("(b) jobs that print ~1 KiB", ["seq", "1", "250"], 0.8),
        ):
            section(f"{title}: {jobs} jobs, concurrency 4, {rounds} rounds")
            schemas: list[str] = []
            run = Runner(args.url, tmp, argv, jobs, schemas)
            try:
                times = interleave(rounds, {"kept": run.kept, "files": run.files})
            finally:
                for schema in schemas:
                    admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            say(f"  kept in the store: {spread(times['kept'])} s")
            say(f"  files only:        {spread(times['files'])} s")
            say("  " + ratio_line("kept vs files", times["kept"], times["files"], target))


if __name__ == "__main__":
    main()
