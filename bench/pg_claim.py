"""jobctl on PostgreSQL: claim+finish throughput, history, enqueue and wake-up latency.

(a) 2000 no-op handler jobs drained by 1, 2 and 4 live daemons (`--concurrency 4` each, own
    --node and runtime directory: hosts) vs a raw psycopg claim+finish loop in 1, 2 and 4
    worker processes (one `UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED) RETURNING`
    to claim, one UPDATE to finish). Jobs wait in a paused queue while the daemons start and
    go idle; the time runs from the resume to the last finished_at. Target: >= 0.5 of raw
    with 4 daemons.
(b) The same drain with 4 daemons on a table holding 1M finished jobs (and their attempts,
    loaded with COPY) vs an empty table. Target: within 20 % (ratio >= 0.8).
(c) Client.enqueue (one job per transaction) vs a raw psycopg INSERT of a row per
    transaction. Target: >= 0.5.
(d) Enqueue on "host A" (this process) → start on an idle daemon of "host B" (its own
    process and runtime directory; woken by LISTEN/NOTIFY): a handler that stamps
    time.time(). Target: median <= 20 ms. Baseline: a raw INSERT+NOTIFY seen by a raw
    LISTEN in another process.

Every section interleaves its subjects over >= 5 rounds and reports medians with the spread.
The server is $JOBCTL_BENCH_PG (default postgresql://postgres@127.0.0.1:5432/postgres); each
run creates its own databases and drops them.

    .venv/bin/python bench/pg_claim.py [--quick] [--only a,b,c,d] [--rounds N]
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import random
import signal
import statistics
import subprocess
import time
from collections.abc import Iterator
from multiprocessing.synchronize import Event
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from _common import (
    JOBCTL,
    fresh_dir,
    interleave,
    isolated_env,
    machine_line,
    parser,
    ratio_line,
    say,
    section,
    spread,
    verdict,
    wait_for,
)
from drain import BENCHMOD, CONFIG  # the same handler module and config

from jobctl import Client
from jobctl.config.check import load_config
from jobctl.config.resolve import EnqueueOptions
from jobctl.store import open_store

SERVER = os.environ.get("JOBCTL_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


# --- databases ----------------------------------------------------------------------------
def db_url(name: str) -> str:
    return urlunsplit(urlsplit(SERVER)._replace(path=f"/{name}"))


@contextlib.contextmanager
def database(label: str) -> Iterator[str]:
    """A new database with jobctl's schema; dropped afterwards."""
    name = f"jobctl_bench_{label}_{os.getpid()}"
    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = db_url(name)
    open_store(url).close()
    try:
        yield url
    finally:  # WITH (FORCE): this process's idle pooled connections go too
        with psycopg.connect(SERVER, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sql1(url: str, query: str, params: tuple[object, ...] = ()) -> object:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(query, params).fetchone()[0]  # type: ignore[index]


def server_now(url: str) -> float:
    return float(sql1(url, "SELECT extract(epoch FROM clock_timestamp())"))  # type: ignore[arg-type]


# --- jobctl: live daemons draining a paused queue ------------------------------------------
class Setup:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        (tmp / "benchmod.py").write_text(BENCHMOD)
        (tmp / "config.yaml").write_text(CONFIG)
        self.config = load_config(tmp / "config.yaml")
        self.env = isolated_env(tmp, JOBCTL_CONFIG=str(tmp / "config.yaml"), PYTHONPATH=str(tmp))

    def client(self, url: str) -> Client:
        return Client(url, self.config)

    @contextlib.contextmanager
    def daemons(self, url: str, count: int, concurrency: int = 4) -> Iterator[None]:
        procs = []
        for n in range(count):
            node = f"b{n}"
            env = {**self.env, "RUNTIME_DIRECTORY": str(self.tmp / "run" / node)}
            log = open(self.tmp / f"daemon-{node}.log", "ab")  # noqa: SIM115
            procs.append(subprocess.Popen(
                [JOBCTL, "--db", url, "daemon", "--node", node, "--concurrency",
                 str(concurrency), "--grace", "5s"],
                env=env, stdout=log, stderr=log, cwd=self.tmp,
            ))  # fmt: skip
            log.close()
        try:
            want = {p.pid for p in procs}
            with self.client(url) as client:
                ok = wait_for(lambda: want <= {d.pid for d in client.status().daemons}, 60, 0.1)
            if not ok:
                raise SystemExit(f"daemons did not start: see {self.tmp}/daemon-*.log")
            yield
        finally:
            for p in procs:
                p.send_signal(signal.SIGTERM)
            for p in procs:
                p.wait(30)

    def drain(self, url: str, daemons: int, n: int) -> float:
        """Seconds from resuming a paused queue of n no-op jobs to the last finish. (The
        polls read only this round's rows, by id: a count over the whole table would cost
        the server more than the drain with 1M finished jobs in it.)"""
        with self.client(url) as client:
            client.pause_queue("default")
            ids = []
            for start in range(0, n, 5000):
                count = min(5000, n - start)
                done = client.enqueue_options([EnqueueOptions(job_type="noop")] * count)
                ids += [e.id for e in done]
            first = min(ids)
            with self.daemons(url, daemons):
                time.sleep(0.5)  # past start-up work: idle
                started = server_now(url)
                client.pause_queue("default", paused=False)
                q = "SELECT count(*) FROM jobctl.jobs WHERE id >= %s AND state = 'succeeded'"
                if not wait_for(lambda: int(sql1(url, q, (first,))) >= n, 600, 0.02):  # type: ignore[arg-type]
                    raise SystemExit(f"{daemons} daemons did not drain {n} jobs in 600 s")
                last = sql1(
                    url, "SELECT max(finished_at) FROM jobctl.jobs WHERE id >= %s", (first,)
                )
        return float(last) - started  # type: ignore[arg-type]


# --- raw psycopg claim+finish -------------------------------------------------------------
RAW_TABLE = """
CREATE TABLE IF NOT EXISTS raw_jobs (
    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, state text NOT NULL,
    payload text, started_at double precision, finished_at double precision);
CREATE INDEX IF NOT EXISTS raw_jobs_ready ON raw_jobs (id) WHERE state = 'queued';
"""
RAW_CLAIM = (
    "UPDATE raw_jobs SET state = 'running', started_at = extract(epoch FROM clock_timestamp())"
    " WHERE id = (SELECT id FROM raw_jobs WHERE state = 'queued' ORDER BY id LIMIT 1"
    " FOR UPDATE SKIP LOCKED) RETURNING id, payload"
)
RAW_FINISH = (
    "UPDATE raw_jobs SET state = 'done', finished_at = extract(epoch FROM clock_timestamp())"
    " WHERE id = %s"
)


def _raw_worker(url: str, go: Event) -> None:
    with psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn:
        go.wait()
        while True:
            row = conn.execute(RAW_CLAIM).fetchone()
            if row is None:
                return
            conn.execute(RAW_FINISH, (row[0],))


def raw_drain(url: str, workers: int, n: int) -> float:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(RAW_TABLE)
        conn.execute(
            "INSERT INTO raw_jobs (state, payload)"
            " SELECT 'queued', '{}' FROM generate_series(1, %s)",
            (n,),
        )
    go = multiprocessing.get_context("fork").Event()
    procs = [
        multiprocessing.get_context("fork").Process(target=_raw_worker, args=(url, go))
        for _ in range(workers)
    ]
    for p in procs:
        p.start()
    time.sleep(0.3)  # connected and waiting
    started = server_now(url)
    go.set()
    for p in procs:
        p.join(600)
    return float(sql1(url, "SELECT max(finished_at) FROM raw_jobs")) - started  # type: ignore[arg-type]


# --- (a) ----------------------------------------------------------------------------------
def bench_a(setup: Setup, rounds: int, n: int) -> None:
    section(f"(a) claim+finish of {n} no-op jobs: live daemons vs raw SKIP LOCKED workers")
    with database("a") as url:
        subjects = {}
        for k in (1, 2, 4):
            subjects[f"jobctl{k}"] = lambda k=k: setup.drain(url, k, n)
            subjects[f"raw{k}"] = lambda k=k: raw_drain(url, k, n)
        res = interleave(rounds, subjects, "(a) ")
    for k in (1, 2, 4):
        say(f"  {k} daemon(s) x4 slots: {spread(res[f'jobctl{k}'])} s; "
            f"{n / statistics.median(res[f'jobctl{k}']):.0f} jobs/s")  # fmt: skip
        say(f"  raw, {k} worker(s):      {spread(res[f'raw{k}'])} s; "
            f"{n / statistics.median(res[f'raw{k}']):.0f} jobs/s")  # fmt: skip
        target = 0.5 if k == 4 else 0.0
        say(
            "  "
            + ratio_line(f"{k} daemon(s) vs raw {k}", res[f"jobctl{k}"], res[f"raw{k}"], target)
        )


# --- (b) ----------------------------------------------------------------------------------
def load_history(url: str, rows: int) -> None:
    """`rows` succeeded jobs with their attempts, through COPY, then VACUUM ANALYZE."""
    now = time.time() - 86400
    cols = ("queue, state, command, payload, priority, run_at, created_at, started_at,"
            " finished_at, attempts, max_attempts, backoff, backoff_base, backoff_max, jitter,"
            " exit_code, cwd, env")  # fmt: skip
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET search_path TO jobctl")
        first = int(conn.execute("SELECT coalesce(max(id), 0) + 1 FROM jobs").fetchone()[0])  # type: ignore[index]
        with conn.transaction(), conn.cursor() as cur:
            with cur.copy(f"COPY jobs (id, {cols}) FROM STDIN") as copy:
                for i in range(rows):
                    at = now + i * 0.01
                    copy.write_row((first + i, "default", "succeeded", '["true"]', None, 0,
                                    at, at, at, at + 0.01, 1, 5, "exponential", 10.0, 3600.0,
                                    "full", 0, "/", "{}"))  # fmt: skip
            with cur.copy(
                "COPY attempts (job_id, attempt, queue, node, runner, started_at, finished_at,"
                " exit_code, duration) FROM STDIN"
            ) as copy:
                for i in range(rows):
                    at = now + i * 0.01
                    copy.write_row((first + i, 1, "default", "h", "h:1:x", at, at + 0.01, 0, 0.01))
            cur.execute(
                "SELECT setval(pg_get_serial_sequence('jobs', 'id'), (SELECT max(id) FROM jobs))"
            )
        conn.execute("VACUUM ANALYZE jobs")
        conn.execute("VACUUM ANALYZE attempts")


def bench_b(setup: Setup, rounds: int, n: int, history: int) -> None:
    section(f"(b) the (a) drain with 4 daemons: {history:,} finished jobs in the table vs none")
    with database("empty") as empty, database("hist") as full:
        took = time.perf_counter()
        load_history(full, history)
        say(f"  loaded {history:,} jobs + attempts with COPY in {time.perf_counter() - took:.1f} s")
        res = interleave(
            rounds,
            {"empty": lambda: setup.drain(empty, 4, n), "history": lambda: setup.drain(full, 4, n)},
            "(b) ",
        )
    say(f"  empty table:   {spread(res['empty'])} s")
    say(f"  with history:  {spread(res['history'])} s")
    say("  " + ratio_line("with history vs empty", res["history"], res["empty"], 0.8))


# --- (c) ----------------------------------------------------------------------------------
def bench_c(setup: Setup, rounds: int, n: int) -> None:
    section(f"(c) {n} enqueues, one per transaction: Client.enqueue vs raw psycopg INSERT")
    with database("c") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(RAW_TABLE)
        client = setup.client(url)
        client.enqueue(["true"])  # connected and warm

        def jobctl() -> float:
            started = time.perf_counter()
            for _ in range(n):
                client.enqueue(["true"], cwd="/")
            return time.perf_counter() - started

        raw_conn = psycopg.connect(url, autocommit=True, prepare_threshold=None)

        def raw() -> float:
            started = time.perf_counter()
            for _ in range(n):
                raw_conn.execute(
                    "INSERT INTO raw_jobs (state, payload) VALUES ('queued', %s) RETURNING id",
                    ('{"command": ["true"]}',),
                ).fetchone()
            return time.perf_counter() - started

        try:
            res = interleave(rounds, {"jobctl": jobctl, "raw": raw}, "(c) ")
        finally:
            client.close()
            raw_conn.close()
    say(f"  Client.enqueue: {spread(res['jobctl'], 1000 / n)} ms each")
    say(f"  raw INSERT:     {spread(res['raw'], 1000 / n)} ms each")
    say("  " + ratio_line("enqueue vs raw INSERT", res["jobctl"], res["raw"], 0.5))


# --- (d) ----------------------------------------------------------------------------------
def _raw_listener(url: str, path: str, ready: Event) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("LISTEN bench_raw")
        ready.set()
        for note in conn.notifies():
            stamped = time.time()
            Path(path + note.payload + ".tmp").write_text(repr(stamped))
            os.replace(path + note.payload + ".tmp", path + note.payload)


def bench_d(setup: Setup, samples: int) -> None:
    section(f"(d) enqueue on host A → start on an idle daemon of host B ({samples} samples)")
    with database("d") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(RAW_TABLE)
        ctx = multiprocessing.get_context("fork")
        ready = ctx.Event()
        stamps = setup.tmp / "stamps"
        stamps.mkdir()
        listener = ctx.Process(target=_raw_listener, args=(url, str(stamps / "raw-"), ready))
        listener.start()
        ready.wait(30)
        raw_conn = psycopg.connect(url, autocommit=True)
        counter = iter(range(10**9))
        with setup.daemons(url, 1), setup.client(url) as client:
            client.enqueue(job_type="stamp", payload={"path": str(stamps / "warm")})
            wait_for((stamps / "warm").exists, 30)

            def jobctl() -> float:
                time.sleep(0.3 + random.random() * 0.05)  # idle: parked on LISTEN
                path = stamps / f"j{next(counter)}"
                sent = time.time()
                client.enqueue(job_type="stamp", payload={"path": str(path)})
                if not wait_for(path.exists, 30, 0.001):
                    raise SystemExit("the stamp job did not run in 30 s")
                return float(path.read_text()) - sent

            def raw() -> float:
                time.sleep(0.3 + random.random() * 0.05)
                key = str(next(counter))
                path = stamps / f"raw-{key}"
                sent = time.time()
                with raw_conn.transaction():
                    raw_conn.execute("INSERT INTO raw_jobs (state) VALUES ('queued')")
                    raw_conn.execute("SELECT pg_notify('bench_raw', %s)", (key,))
                if not wait_for(path.exists, 30, 0.001):
                    raise SystemExit("the raw listener did not wake in 30 s")
                return float(path.read_text()) - sent

            res: dict[str, list[float]] = {"jobctl": [], "raw": []}
            for _ in range(samples):
                res["jobctl"].append(jobctl())
                res["raw"].append(raw())
        raw_conn.close()
        listener.terminate()
        listener.join(10)
    med = statistics.median(res["jobctl"])
    say(f"  jobctl enqueue → handler running: {spread(res['jobctl'], 1000, '.1f')} ms")
    say(f"  raw INSERT+NOTIFY → LISTEN woke:  {spread(res['raw'], 1000, '.1f')} ms")
    say(f"  median {med * 1000:.1f} ms  {verdict(med * 1000, 20, higher_is_better=False)}")


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--only", default="a,b,c,d")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--history", type=int, default=1_000_000)
    args = p.parse_args()
    only = set(args.only.split(","))
    n = 500 if args.quick else 2000
    say(machine_line())
    say(f"server {SERVER}")
    with fresh_dir() as tmp:
        setup = Setup(tmp)
        if "a" in only:
            bench_a(setup, args.rounds, n)
        if "b" in only:
            bench_b(setup, args.rounds, n, 20_000 if args.quick else args.history)
        if "c" in only:
            bench_c(setup, args.rounds, 200 if args.quick else 1000)
        if "d" in only:
            bench_d(setup, 15 if args.quick else 41)


if __name__ == "__main__":
    main()
