"""The cost of placement filters on the claim: claims per second through the store's claim
(batches of 8, claim + finish, as a daemon does) of 4000 ready jobs,

  baseline: no job placed, a daemon with no tags;
  tagged:   the same jobs spread over 50 tags (`--on-tag`), a daemon holding all 50 tags,
            plus 1000 jobs placed on a node that is not this one (skipped by every claim).

Target: tagged >= 0.9 of baseline (at most 10 % fewer claims/s). On SQLite (a fresh file
per round) and, with --pg URL, on PostgreSQL (a fresh database per round, dropped after).
On PostgreSQL the jobs table is analysed once the jobs are in, as autovacuum does within a
minute of a bulk insert on a live system: on a table never analysed the planner guesses, and
either subject's claim may be planned as a bitmap scan and a sort of every ready job
(4-6 ms a claim of 8 from 4000 ready jobs, against 0.05 ms for the walk of the claim index).

    .venv/bin/python bench/placement.py [--quick] [--pg postgresql://postgres@127.0.0.1/postgres]
"""

from __future__ import annotations

import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import _common as c
import psycopg

from jobctl.domain.failure import Decision
from jobctl.domain.job import JobSpec, State
from jobctl.store import open_store
from jobctl.store.repos.dispatch import Claim, Finish
from tests.support.pg import PgServer

TAGS = [f"tag{i:02d}" for i in range(50)]
OK = Decision(State.SUCCEEDED, None)


def _run(url: str, jobs: int, tagged: bool) -> float:
    """Claims/s draining `jobs` ready jobs from a fresh store at `url`."""
    store = open_store(url)
    try:
        now = store.now()
        specs = [
            JobSpec(command=["true"], on_tag=TAGS[i % len(TAGS)] if tagged else None)
            for i in range(jobs)
        ]
        if tagged:
            specs += [JobSpec(command=["true"], on_node="elsewhere") for _ in range(jobs // 4)]
        for start in range(0, len(specs), 1000):
            store.jobs.enqueue(specs[start : start + 1000], now)
        if url.startswith("postgresql:"):
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("ANALYZE jobctl.jobs")
        request = Claim("bench:1:x", "bench", 8, 30.0, tags=frozenset(TAGS if tagged else ()))
        claimed = 0
        started = time.perf_counter()
        while claimed < jobs:
            batch = store.dispatch.claim(request, now)
            if not batch:
                break
            claimed += len(batch)
            store.dispatch.finish([Finish(j.id, j.attempts, "bench:1:x", OK) for j in batch], now)
        elapsed = time.perf_counter() - started
        assert claimed == jobs, (claimed, jobs)
        return claimed / elapsed
    finally:
        store.close()


def _sqlite_subject(tmp: Path, jobs: int, tagged: bool):  # type: ignore[no-untyped-def]
    return lambda: _run(str(tmp / f"{uuid.uuid4().hex}.db"), jobs, tagged)


def _pg_subject(server: PgServer, jobs: int, tagged: bool):  # type: ignore[no-untyped-def]
    """A fresh database per round (cloned from the test template), dropped after it."""

    def run() -> float:
        url = server.fresh()
        try:
            return _run(url, jobs, tagged)
        finally:
            server.drop(url)

    return run


def main() -> None:
    p = c.parser(__doc__)
    p.add_argument("--pg", help="a PostgreSQL server URL to run on too (a database per round)")
    args = p.parse_args()
    jobs, rounds = (800, 3) if args.quick else (4000, 5)
    c.say(c.machine_line())
    server = PgServer(args.pg) if args.pg else None
    with c.fresh_dir() as tmp:
        backends = {"sqlite": lambda tagged: _sqlite_subject(tmp, jobs, tagged)}
        if server is not None:
            backends["postgres"] = lambda tagged: _pg_subject(server, jobs, tagged)
        try:
            _compare(backends, jobs, rounds)
        finally:
            if server is not None:
                server.close()  # the template too


def _compare(backends: dict[str, Any], jobs: int, rounds: int) -> None:
    """Baseline vs tagged on each backend, interleaved rounds; the ratio of medians."""
    for name, subject in backends.items():
        c.section(f"{name}: claims/s, {jobs} jobs, batches of 8")
        out = c.interleave(rounds, {"baseline": subject(False), "tagged": subject(True)}, name)
        base, tagged = statistics.median(out["baseline"]), statistics.median(out["tagged"])
        c.say(f"  baseline {c.spread(out['baseline'], fmt='.0f')} claims/s")
        c.say(f"  tagged   {c.spread(out['tagged'], fmt='.0f')} claims/s")
        c.say(f"  ratio tagged/baseline {tagged / base:.3f}  {c.verdict(tagged / base, 0.9)}")


if __name__ == "__main__":
    main()
