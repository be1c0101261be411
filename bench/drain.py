"""The daemon end to end: drain throughput, dispatch latency, idle CPU and memory.

(a) 2000 `true` jobs at concurrency 4 vs `seq 2000 | xargs -P 4 -n 1 true`.
    Target (issue 16): daemon throughput >= 0.8 of xargs.
(b) 2000 Python handler jobs (`handler: benchmod:noop`) with --concurrency 1 and 4, vs a raw
    sqlite3 claim+finish loop (one UPDATE ... RETURNING transaction to claim, one to finish;
    WAL, synchronous=NORMAL) in 1 and 4 worker processes, and vs a peer: Huey's consumer
    (SqliteStorage, WAL, synchronous=NORMAL, 1 and 4 worker threads) on the same 2000 no-op
    tasks, all interleaved in the same rounds (Huey needs the `bench` extra:
    pip install -e '.[bench]'; without it that column is skipped).
    Targets (issue 16): jobctl/raw >= 0.5 with 1 and with 4 workers; jobctl/Huey >= 1.0.
    Throughput is the steady state of a running daemon: the jobs wait in a paused queue, a
    live `jobctl daemon` process has started and gone idle, and the time runs from the
    resume (`queue resume`'s write) to the last job's finished_at. The raw workers are
    forked first and released together the same way (start to the last finished_at). The
    cold figure (a fresh `daemon --burst` process, start to exit, start-up included) is
    reported beside it, with the start-up of an empty burst.
(c) enqueue -> start latency on a live daemon idle for 1 s (and, unless --quick, 75 s; plus
    0-50 ms of random jitter so samples do not phase-lock to the daemon's poll):
    a command job `sh -c 'date +%s.%N > FILE'` and a handler job that writes time.time(),
    each against the timestamp taken just before Client.enqueue; baseline: spawning the same
    command directly. Target: median <= 20 ms. Plus the idle daemon's CPU over 10 s
    (target < 1% of a core).
(d) daemon RSS after 100k no-op handler jobs (10k with --quick). Target <= 80 MB.

    /tmp/devvenv/bin/python bench/drain.py [--quick] [--only a,b,c,d]
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.synchronize import Event
from pathlib import Path

import psutil
from _common import (
    JOBCTL,
    PYTHON,
    ceiling_line,
    fresh_dir,
    interleave,
    isolated_env,
    machine_line,
    parser,
    percentile,
    ratio_line,
    say,
    section,
    spread,
    timed,
    wait_for,
)

from jobctl import Client
from jobctl.config.check import load_config
from jobctl.config.resolve import EnqueueOptions

BENCHMOD = """\
import time


def noop(payload):
    pass


def stamp(payload):
    stamped = time.time()
    with open(payload["path"] + ".tmp", "w") as f:
        f.write(repr(stamped))
    import os

    os.replace(payload["path"] + ".tmp", payload["path"])
"""
CONFIG = """\
job_types:
  - {name: noop, handler: "benchmod:noop"}
  - {name: stamp, handler: "benchmod:stamp"}
"""


# --- setup ------------------------------------------------------------------------------
def prepare(tmp: Path) -> tuple[Path, dict[str, str]]:
    """Write benchmod.py and the config into tmp; returns (db path, subprocess env)."""
    (tmp / "benchmod.py").write_text(BENCHMOD)
    (tmp / "config.yaml").write_text(CONFIG)
    env = isolated_env(tmp, JOBCTL_CONFIG=str(tmp / "config.yaml"), PYTHONPATH=str(tmp))
    return tmp / "jobs.db", env


def enqueue_bulk(tmp: Path, db: Path, n: int, **fields: object) -> None:
    config = load_config(tmp / "config.yaml")
    with Client(db, config) as client:
        for start in range(0, n, 10_000):
            count = min(10_000, n - start)
            client.enqueue_options([EnqueueOptions(**fields) for _ in range(count)])  # type: ignore[arg-type]


def succeeded(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute("SELECT count(*) FROM jobs WHERE state = 'succeeded'").fetchone()[0]
    finally:
        conn.close()


def daemon_args(db: Path, concurrency: int, burst: bool) -> list[str]:
    args = [JOBCTL, "--db", str(db), "daemon", "--concurrency", str(concurrency)]
    return [*args, "--burst"] if burst else args


JITTER = 0.05  # (c): random extra idle, so samples do not phase-lock to the daemon's poll
FEED = 5000  # (d): jobs enqueued per chunk


def burst(tmp: Path, db: Path, env: dict[str, str], concurrency: int, expect: int) -> float:
    with open(tmp / "daemon.log", "wb") as log:
        took = timed(
            lambda: subprocess.run(
                daemon_args(db, concurrency, True),
                env=env,
                stderr=log,
                stdout=subprocess.DEVNULL,
                check=True,
            )
        )
    done = succeeded(db)
    if done != expect:
        raise SystemExit(f"daemon --burst left {expect - done} of {expect} jobs unfinished")
    return took


def last_finished(db: Path, table: str = "jobs") -> float:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(f"SELECT max(finished_at) FROM {table}").fetchone()[0]
    finally:
        conn.close()


DAEMON_CPU: dict[str, list[float]] = {}  # per label: the daemon's own CPU us per job, per run


def warm_drain(
    tmp: Path, db: Path, env: dict[str, str], concurrency: int, n: int, label: str = ""
) -> float:
    """Seconds from resuming the paused queue on a live, idle daemon to the last finish.
    The daemon process's own CPU (user+sys, children excluded) over the drain, per job, goes
    to DAEMON_CPU[label]."""
    with live_daemon(tmp, db, env, concurrency) as pid, Client(db) as client:
        time.sleep(0.3)  # past start-up work (orphan recovery, first rescan): idle
        proc = psutil.Process(pid)
        before = proc.cpu_times()
        started = time.time()
        client.pause_queue("default", paused=False)
        if not wait_for(lambda: succeeded(db) >= n, 300, 0.01):
            raise SystemExit(f"the daemon finished {succeeded(db)} of {n} jobs in 300 s")
        after = proc.cpu_times()
    used = (after.user - before.user) + (after.system - before.system)
    DAEMON_CPU.setdefault(label, []).append(used / n * 1e6)
    return last_finished(db) - started


def paused_jobs(tmp: Path, db: Path, n: int, **fields: object) -> None:
    with Client(db) as client:
        client.pause_queue("default")
    enqueue_bulk(tmp, db, n, **fields)


# --- (a) command jobs vs xargs ------------------------------------------------------------
def daemon_true(n: int) -> float:
    with fresh_dir() as tmp:
        db, env = prepare(tmp)
        paused_jobs(tmp, db, n, command=["true"])
        return warm_drain(tmp, db, env, 4, n, "true")


def daemon_true_cold(n: int) -> float:
    with fresh_dir() as tmp:
        db, env = prepare(tmp)
        enqueue_bulk(tmp, db, n, command=["true"])
        return burst(tmp, db, env, 4, n)


def xargs_true(n: int) -> float:
    return timed(lambda: subprocess.run(f"seq {n} | xargs -P 4 -n 1 true", shell=True, check=True))


def empty_burst() -> float:
    with fresh_dir() as tmp:
        db, env = prepare(tmp)
        Client(db).store.close()
        return burst(tmp, db, env, 4, 0)


# --- (b) handler jobs vs a raw claim+finish loop --------------------------------------
def daemon_noop(n: int, concurrency: int) -> float:
    with fresh_dir() as tmp:
        db, env = prepare(tmp)
        paused_jobs(tmp, db, n, job_type="noop")
        return warm_drain(tmp, db, env, concurrency, n, f"noop/{concurrency}")


def daemon_noop_cold(n: int, concurrency: int) -> float:
    with fresh_dir() as tmp:
        db, env = prepare(tmp)
        enqueue_bulk(tmp, db, n, job_type="noop")
        return burst(tmp, db, env, concurrency, n)


RAW_CLAIM = (
    "UPDATE t SET state = 'running', started_at = ?"
    " WHERE id = (SELECT id FROM t WHERE state = 'queued' ORDER BY id LIMIT 1)"
    " RETURNING id, payload"
)
RAW_FINISH = "UPDATE t SET state = 'done', finished_at = ? WHERE id = ?"
# The daemon's own claim and finish statements (simplified: no limits, no ordering keys), on
# a DB jobctl created: what jobctl's schema costs per job with no Python of ours.
SCHEMA_CLAIM = (
    "UPDATE jobs SET state = 'running', attempts = attempts + 1, started_at = ?,"
    " lease_owner = 'bench', lease_expires_at = ? + 30"
    " WHERE id = (SELECT id FROM jobs INDEXED BY jobs_claim WHERE state IN ('queued', 'retrying')"
    " AND run_at <= ? ORDER BY priority DESC, run_at, id LIMIT 1)"
    " RETURNING id, attempts, queue, run_at, payload"
)
SCHEMA_ATTEMPT = (
    "INSERT INTO attempts (job_id, attempt, queue, node, runner, due_at, started_at)"
    " VALUES (?, ?, ?, 'bench', 'bench', ?, ?)"
)
SCHEMA_FINISH = (
    "UPDATE jobs SET state = 'succeeded', exit_code = 0, finished_at = ?, lease_owner = NULL,"
    " lease_expires_at = NULL WHERE id = ?"
)
SCHEMA_ATTEMPT_END = (
    "UPDATE attempts SET finished_at = ?, exit_code = 0, duration = 0"
    " WHERE job_id = ? AND attempt = ?"
)


Row = tuple[object, ...]


def _raw_claim(conn: sqlite3.Connection, now: float) -> Row | None:
    return conn.execute(RAW_CLAIM, (now,)).fetchone()


def _raw_finish(conn: sqlite3.Connection, row: Row, now: float) -> None:
    conn.execute(RAW_FINISH, (now, row[0]))


def _schema_claim(conn: sqlite3.Connection, now: float) -> Row | None:
    row = conn.execute(SCHEMA_CLAIM, (now, now, now)).fetchone()
    if row is not None:
        conn.execute(SCHEMA_ATTEMPT, (row[0], row[1], row[2], row[3], now))
    return row


def _schema_finish(conn: sqlite3.Connection, row: Row, now: float) -> None:
    conn.execute(SCHEMA_FINISH, (now, row[0]))
    conn.execute(SCHEMA_ATTEMPT_END, (now, row[0], row[1]))


STEPS = {False: (_raw_claim, _raw_finish), True: (_schema_claim, _schema_finish)}


def _raw_worker(path: str, go: Event, schema: bool) -> None:
    """Claim and finish jobs (each step its own transaction) until none is left."""
    claim, finish = STEPS[schema]
    conn = sqlite3.connect(path, isolation_level=None, timeout=10)
    conn.execute("PRAGMA synchronous = NORMAL")
    go.wait()

    def noop(payload: object) -> None:
        pass

    while True:
        conn.execute("BEGIN IMMEDIATE")
        row = claim(conn, time.time())
        conn.execute("COMMIT")
        if row is None:
            return
        noop(row[-1])  # the payload
        conn.execute("BEGIN IMMEDIATE")
        finish(conn, row, time.time())
        conn.execute("COMMIT")


def _raw_table(tmp: Path, n: int) -> tuple[Path, str, str]:
    """n queued rows in a 5-column table; (path, table, finished state)."""
    path = tmp / "raw.db"
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, state TEXT NOT NULL, payload TEXT,"
        " started_at REAL, finished_at REAL)"
    )
    conn.execute("CREATE INDEX t_queued ON t (id) WHERE state = 'queued'")
    conn.executemany("INSERT INTO t (state, payload) VALUES ('queued', 'null')", [()] * n)
    conn.close()
    return path, "t", "done"


def _schema_db(tmp: Path, n: int) -> tuple[Path, str, str]:
    """n queued no-op handler jobs in a jobctl DB; (path, table, finished state)."""
    path = tmp / "jobs.db"
    prepare(tmp)
    enqueue_bulk(tmp, path, n, job_type="noop")
    return path, "jobs", "succeeded"


def raw_loop(n: int, workers: int, schema: bool = False) -> float:
    """Release forked workers claiming and finishing n jobs; seconds to the last finish.
    `schema`: jobctl's DB and statements instead of the 5-column table."""
    with fresh_dir() as tmp:
        path, table, state = (_schema_db if schema else _raw_table)(tmp, n)
        ctx = multiprocessing.get_context("fork")
        go = ctx.Event()
        procs = [
            ctx.Process(target=_raw_worker, args=(str(path), go, schema)) for _ in range(workers)
        ]
        for p in procs:
            p.start()
        time.sleep(0.1)  # forked and connected: waiting for the go
        started = time.time()
        go.set()
        for p in procs:
            p.join()
            if p.exitcode != 0:
                raise SystemExit(f"raw worker failed: exit {p.exitcode}")
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            done = conn.execute(f"SELECT count(*) FROM {table} WHERE state = ?", (state,))
            count = done.fetchone()[0]
        finally:
            conn.close()
        if count != n:
            raise SystemExit(f"raw loop finished {count} of {n}")
        return last_finished(path, table) - started


HUEY = """\
import os, sys, threading, time

from huey import SqliteHuey
from huey.signals import SIGNAL_COMPLETE
from huey.storage import SqliteStorage


class NormalStorage(SqliteStorage):
    \"\"\"SqliteStorage at synchronous=NORMAL (its fsync option has only FULL and OFF).\"\"\"

    def _create_connection(self):
        conn = super()._create_connection()
        conn.execute("pragma synchronous=1")
        return conn


class NormalHuey(SqliteHuey):
    storage_class = NormalStorage


path, n, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
huey = NormalHuey(filename=path, journal_mode="wal")


@huey.task()
def noop(payload):
    pass


for _ in range(n):
    noop({})
assert len(huey) == n, len(huey)
done, lock, finished = [0], threading.Lock(), threading.Event()


@huey.signal(SIGNAL_COMPLETE)
def completed(signal, task, *args, **kwargs):
    with lock:
        done[0] += 1
        if done[0] == n:
            finished.set()


consumer = huey.create_consumer(workers=workers, worker_type="thread", periodic=False)
started = time.time()
consumer.start()
if not finished.wait(300):
    sys.exit(f"huey finished {done[0]} of {n} tasks in 300 s")
print(time.time() - started)
sys.stdout.flush()
os._exit(0)
"""


def have_huey() -> bool:
    return importlib.util.find_spec("huey") is not None


def huey_drain(n: int, workers: int) -> float:
    """Huey's consumer (threads) draining n no-op tasks enqueued before it starts; seconds
    from the consumer's start to the last task's completion."""
    with fresh_dir() as tmp:
        out = subprocess.run(
            [PYTHON, "-c", HUEY, str(tmp / "huey.db"), str(n), str(workers)],
            capture_output=True,
            text=True,
            check=True,
            cwd=tmp,
        ).stdout
        return float(out.split()[-1])


# --- (c) latency and idle CPU; (d) RSS ------------------------------------------------------
@contextmanager
def live_daemon(tmp: Path, db: Path, env: dict[str, str], concurrency: int) -> Iterator[int]:
    """A running (non-burst) daemon; yields its pid once it has registered."""
    Client(db).store.close()  # schema exists before the daemon and the client race for it
    with open(tmp / "daemon.log", "wb") as log:
        proc = subprocess.Popen(
            daemon_args(db, concurrency, False), env=env, stderr=log, stdout=subprocess.DEVNULL
        )
        try:
            with Client(db) as probe:
                if not wait_for(lambda: bool(probe.status().daemons), 30, 0.05):
                    raise SystemExit("the daemon did not register within 30 s")
            yield proc.pid
        finally:
            proc.send_signal(signal.SIGTERM)
            if proc.wait(60) != 0:
                say(f"warning: daemon exited {proc.returncode}")


def stamp_of(path: Path) -> float:
    """The epoch seconds a job wrote (both writers rename into place: complete once seen)."""
    if not wait_for(path.exists, 30, 0.001):
        raise SystemExit(f"no timestamp in {path} after 30 s")
    return float(path.read_text())


def date_cmd(path: Path) -> list[str]:
    return ["sh", "-c", f"date +%s.%N > {path}.tmp && mv {path}.tmp {path}"]


def latency(tmp: Path, client: Client, kind: str, n: int) -> float:
    """Seconds from just before enqueue (or spawn, for the baseline) to the job's stamp."""
    path = tmp / f"stamp-{kind}-{n}"
    if kind == "direct":
        t0 = time.time()
        subprocess.Popen(date_cmd(path)).wait()
        return stamp_of(path) - t0
    t0 = time.time()
    if kind == "command":
        job = client.enqueue(date_cmd(path))
    else:
        job = client.enqueue(job_type="stamp", payload={"path": str(path)})
    took = stamp_of(path) - t0
    client.wait([job], timeout=30, poll=0.01)
    return took


def latency_series(tmp: Path, client: Client, samples: int, idle: float) -> dict[str, list[float]]:
    counter = iter(range(10**9))

    def one(kind: str) -> float:
        time.sleep(idle + random.uniform(0, JITTER))
        return latency(tmp, client, kind, next(counter))

    return interleave(
        samples,
        {k: (lambda k=k: one(k)) for k in ("command", "direct", "handler")},
        label=f"idle {idle:g}s ",
    )


def report_latency(res: dict[str, list[float]], idle: float) -> None:
    for kind, values in res.items():
        p99 = percentile(values, 99) * 1e3
        say(f"idle {idle:>4g}s {kind:8}: {spread(values, 1e3, '.2f')} ms  p99 {p99:.2f} ms")
    med = statistics.median(res["command"]) * 1e3
    ok = "PASS" if med <= 20 else "FAIL"
    base = statistics.median(res["direct"]) * 1e3
    say(
        f"idle {idle:>4g}s command job median {med:.2f} ms = direct spawn {base:.2f} ms"
        f" + {med - base:.2f} ms dispatch  {ok} (target median <= 20 ms)"
    )
    hmed = statistics.median(res["handler"]) * 1e3
    say(
        f"idle {idle:>4g}s handler job median {hmed:.2f} ms "
        f"{'PASS' if hmed <= 20 else 'FAIL'} (target median <= 20 ms)"
    )


def idle_cpu(pid: int, seconds: float) -> None:
    proc = psutil.Process(pid)
    c0, x0, t0 = proc.cpu_times(), proc.num_ctx_switches(), time.monotonic()
    time.sleep(seconds)
    c1, x1, t1 = proc.cpu_times(), proc.num_ctx_switches(), time.monotonic()
    used = (c1.user - c0.user) + (c1.system - c0.system)
    share = used / (t1 - t0) * 100
    wakeups = (x1.voluntary - x0.voluntary) / (t1 - t0)
    say(
        f"idle daemon CPU over {t1 - t0:.1f} s: {share:.2f}% of a core"
        f" (user {c1.user - c0.user:.3f} s, sys {c1.system - c0.system:.3f} s,"
        f" ~{wakeups:.0f} voluntary context switches/s)"
        f"  {'PASS' if share < 1 else 'FAIL'} (target < 1%)"
    )


def vm_hwm(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


# --- main ---------------------------------------------------------------------------------
def cold_line(label: str, n: int, cold: list[float], baseline: list[float]) -> None:
    med = statistics.median(cold)
    say(
        f"  (info) {label}cold `daemon --burst`, start to exit, start-up included:"
        f" {spread(cold)} s ({n / med:,.0f} jobs/s), ratio vs baseline"
        f" {statistics.median(baseline) / med:.3f}"
    )


def part_a(rounds: int, n: int) -> None:
    section(f"(a) {n} `true` jobs: live daemon --concurrency 4 vs xargs -P 4 ({rounds} rounds)")
    res = interleave(
        rounds,
        {
            "xargs": lambda: xargs_true(n),
            "daemon": lambda: daemon_true(n),
            "cold": lambda: daemon_true_cold(n),
        },
    )
    for name in ("xargs", "daemon"):
        rate = n / statistics.median(res[name])
        say(f"{name:7}: {spread(res[name])} s  ({rate:,.0f} jobs/s)")
    say(ratio_line("daemon/xargs throughput", res["daemon"], res["xargs"], 0.8))
    cold_line("", n, res["cold"], res["xargs"])
    say(
        f"daemon CPU per `true` job (the daemon process, its children excluded):"
        f" {spread(DAEMON_CPU['true'], fmt='.0f')} us/job"
    )
    empty = [empty_burst() for _ in range(3)]
    say(f"  (info) daemon --burst on an empty DB (its start-up and exit): {spread(empty)} s")


def part_b(rounds: int, n: int) -> None:
    section(
        f"(b) {n} handler jobs (benchmod:noop) vs raw claim+finish loop and Huey ({rounds} rounds)"
    )
    say(
        "  what is timed: raw = release of the forked workers to the last finish, on a"
        " 5-column table (schema: on jobctl's DB); daemon = resume of the paused queue to the"
        " last finish; huey = start of Huey's consumer to the last completion (SqliteStorage,"
        " WAL, NORMAL, worker threads)"
    )
    huey = have_huey()
    if not huey:
        say("  (huey is not installed: pip install -e '.[bench]' for the jobctl/Huey column)")
    for workers in (1, 4):
        subjects = {
            "raw": lambda w=workers: raw_loop(n, w),
            "daemon": lambda w=workers: daemon_noop(n, w),
            "cold": lambda w=workers: daemon_noop_cold(n, w),
            "schema": lambda w=workers: raw_loop(n, w, schema=True),
        }
        if huey:
            subjects["huey"] = lambda w=workers: huey_drain(n, w)
        res = interleave(rounds, subjects, label=f"{workers} worker(s) ")
        for name in ("raw", "daemon", "schema", "huey"):
            if name in res:
                rate = n / statistics.median(res[name])
                say(f"{workers} worker(s) {name:6}: {spread(res[name])} s  ({rate:,.0f} jobs/s)")
        say(
            ratio_line(f"{workers} worker(s) jobctl/raw throughput", res["daemon"], res["raw"], 0.5)
        )
        if huey:
            say(
                ratio_line(
                    f"{workers} worker(s) jobctl/Huey throughput", res["daemon"], res["huey"], 1.0
                )
            )
            per_round = [h / d for d, h in zip(res["daemon"], res["huey"], strict=True)]
            say(f"  per-round jobctl/Huey ratios: {spread(per_round, 1, '.3f')}")
        per_round = [r / d for d, r in zip(res["daemon"], res["raw"], strict=True)]
        say(f"  per-round jobctl/raw ratios: {spread(per_round, 1, '.3f')}")
        cold_line(f"{workers} worker(s) ", n, res["cold"], res["raw"])
        say(
            f"  (info) {workers} worker(s) daemon CPU per handler job:"
            f" {spread(DAEMON_CPU[f'noop/{workers}'], fmt='.0f')} us/job"
        )
        say(ceiling_line("the loop on jobctl's DB and statements", res["schema"], res["raw"]))


def part_c(samples: int, long_samples: int) -> None:
    section("(c) enqueue -> start latency on a live daemon (--concurrency 4), idle CPU")
    with fresh_dir() as tmp:
        db, env = prepare(tmp)
        with (
            live_daemon(tmp, db, env, 4) as pid,
            Client(db, load_config(tmp / "config.yaml")) as client,
        ):
            client.store  # noqa: B018
            report_latency(latency_series(tmp, client, samples, 1.0), 1.0)
            time.sleep(1.0)
            idle_cpu(pid, 10.0)
            values = []
            for n in range(long_samples):
                time.sleep(75 + random.uniform(0, JITTER))
                values.append(latency(tmp, client, "command", 1000 + n))
                sys.stderr.write(f"  idle 75s sample {n + 1}/{long_samples}: {values[-1]:.4f}\n")
            if values:
                say(
                    f"idle   75s command : {spread(values, 1e3, '.2f')} ms"
                    f"  p99 {percentile(values, 99) * 1e3:.2f} ms"
                    f"  {'PASS' if statistics.median(values) <= 0.02 else 'FAIL'}"
                    " (target median <= 20 ms)"
                )


def part_d(n: int) -> None:
    section(f"(d) daemon RSS after {n:,} no-op handler jobs (--concurrency 4)")
    with fresh_dir() as tmp:
        db, env = prepare(tmp)
        Client(db).store.close()
        with live_daemon(tmp, db, env, 4) as pid:
            proc = psutil.Process(pid)
            time.sleep(1.0)
            rss0 = proc.memory_info().rss
            started = time.monotonic()
            fed, trail = 0, []
            while fed < n:  # keep at most ~2 chunks queued: RSS, not queue depth, is measured
                chunk = min(FEED, n - fed)
                enqueue_bulk(tmp, db, chunk, job_type="noop")
                fed += chunk
                if not wait_for(lambda f=fed: succeeded(db) >= f - FEED // 2, 1800, 0.2):
                    raise SystemExit("the daemon did not keep up within 30 min")
                trail.append(proc.memory_info().rss)
            if not wait_for(lambda: succeeded(db) >= n, 1800, 0.2):
                raise SystemExit("the daemon did not finish in 30 min")
            took = time.monotonic() - started
            time.sleep(1.0)
            rss, hwm = proc.memory_info().rss, vm_hwm(pid)
        mb = 1024 * 1024
        say(
            f"RSS idle before jobs {rss0 / mb:.1f} MB (baseline); after {n:,} jobs"
            f" {rss / mb:.1f} MB (x{rss / rss0:.2f}); peak (VmHWM) {hwm / mb:.1f} MB"
            f"  {'PASS' if rss <= 80 * mb else 'FAIL'} (target <= 80 MB)"
        )
        marks = [trail[max(0, len(trail) * k // 5 - 1)] / mb for k in range(1, 6)]
        say("(info) RSS at 20/40/60/80/100% fed: " + " ".join(f"{m:.1f}" for m in marks) + " MB")
        say(
            f"(info) drained {n:,} jobs in {took:.1f} s ({n / took:,.0f} jobs/s; fed in chunks"
            f" of {FEED:,} while the daemon ran)"
        )


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--only", default="a,b,c,d", help="comma-separated parts to run")
    args = p.parse_args()
    parts = set(args.only.split(","))
    say(machine_line())
    if args.quick:
        rounds, n, samples, long_samples, rss_jobs = 2, 500, 8, 0, 10_000
    else:
        rounds, n, samples, long_samples, rss_jobs = 5, 2000, 30, 5, 100_000
    if "a" in parts:
        part_a(rounds, n)
    if "b" in parts:
        part_b(rounds, n)
    if "c" in parts:
        part_c(samples, long_samples)
    if "d" in parts:
        part_d(rss_jobs)
    say(machine_line())


if __name__ == "__main__":
    main()
