"""Enqueue throughput under concurrency vs raw FULL inserts, same machine, same run.

- http: 8 concurrent clients, each a thread with its own keep-alive `httpx.Client`, POST
  `/internal/jobs` ({"job_type", "payload"}) to a real `jobctl daemon --http 127.0.0.1:0`
  (durability full: every 201 is on disk; the server's workers share commits: group commit).
- shared: 8 threads sharing one `jobctl.Client`, enqueueing the same job type (group commit).
- own: 8 threads, each with its own `jobctl.Client` (no commit shared: one fsync per job).
- raw (the baseline): one process, one thread, BEGIN IMMEDIATE / INSERT a ~200-byte row /
  COMMIT on a 4-column WAL table at synchronous=FULL.
The queue is paused so the daemon runs nothing meanwhile. Rounds alternate (ABAB…). Reports
jobs/s (median over rounds, with the spread), the ratios to raw and the p50/p99 latency per
enqueue over all rounds. Targets (issue 16): http/raw >= 0.75 with p99 <= 50 ms; shared/raw
>= 2.0.

    /tmp/devvenv/bin/python bench/http.py [--quick] [--clients 8] [--per-client 200]
"""

from __future__ import annotations

import re
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

# This file is bench/http.py: with bench/ first on sys.path it would shadow the stdlib's
# `http` package, which httpx imports. Import that first without bench/ on the path.
_BENCH = sys.path.pop(0)
import http.client  # noqa: E402, F401

import httpx  # noqa: E402

sys.path.insert(0, _BENCH)
from _common import (  # noqa: E402
    JOBCTL,
    fresh_dir,
    interleave,
    isolated_env,
    machine_line,
    parser,
    percentile,
    say,
    section,
    spread,
    verdict,
    wait_for,
)

from jobctl import Client  # noqa: E402
from jobctl.config.check import load_config  # noqa: E402

CONFIG = "job_types:\n  - name: send_email\n    command: [cat]\n"
PAYLOAD = {"to": "someone@example.com", "subject": "bench", "pad": "x" * 100}


def run_threads(
    clients: int, work: Callable[[int, list[float]], None]
) -> tuple[float, list[float]]:
    """Start `clients` threads running work(index, latencies); wall seconds and latencies."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    barrier = threading.Barrier(clients + 1)

    def body(i: int) -> None:
        barrier.wait()
        work(i, latencies[i])

    threads = [threading.Thread(target=body, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - started, [x for lat in latencies for x in lat]


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--per-client", type=int, default=200)
    args = p.parse_args()
    rounds, per = (2, 50) if args.quick else (5, args.per_client)
    say(machine_line())
    with fresh_dir() as tmp:
        db, cfg = tmp / "jobctl.db", tmp / "config.yaml"
        cfg.write_text(CONFIG)
        env = isolated_env(tmp, JOBCTL_DB=str(db), JOBCTL_CONFIG=str(cfg))
        token = subprocess.run(
            [JOBCTL, "token", "create", "bench", "--scope", "enqueue"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        subprocess.run([JOBCTL, "queue", "pause", "default"], env=env, check=True)
        log = tmp / "daemon.log"
        with open(log, "wb") as out:
            daemon = subprocess.Popen(
                [JOBCTL, "daemon", "--http", "127.0.0.1:0"], env=env, stdout=out, stderr=out
            )
        try:
            found: list[str] = []

            def listening() -> bool:
                found[:] = re.findall(r"http\.listening addr=(\S+)", log.read_text())
                return bool(found)

            if not wait_for(listening, 20, 0.05):
                raise SystemExit("daemon did not start its HTTP server:\n" + log.read_text())
            url = f"http://{found[0]}/internal/jobs"
            measure(url, token, db, cfg, args.clients, per, rounds)
        finally:
            daemon.terminate()
            daemon.wait(30)


RAW_ROWS = 400  # raw inserts per round (a rate: the count only sets the round's length)


def raw_full_inserts(tmp: Path, n: int) -> float:
    """Rows/s of 1-row FULL transactions from one thread of one process."""
    path = tmp / "raw.db"
    path.unlink(missing_ok=True)
    conn = sqlite3.connect(str(path), isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, state TEXT NOT NULL, body TEXT NOT NULL,"
            " created_at REAL NOT NULL)"
        )
        body = "x" * 200
        started = time.perf_counter()
        for i in range(n):
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "INSERT INTO t (state, body, created_at) VALUES ('queued', ?, ?)", (body, i)
            )
            conn.execute("COMMIT")
        return n / (time.perf_counter() - started)
    finally:
        conn.close()


def measure(url: str, token: str, db: Path, cfg: Path, clients: int, per: int, rounds: int) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    config = load_config(str(cfg))
    lat: dict[str, list[float]] = {"http": [], "shared": [], "own": []}

    def over_http() -> float:
        def work(_: int, out: list[float]) -> None:
            with httpx.Client(headers=headers, timeout=30) as session:
                for _ in range(per):
                    t0 = time.perf_counter()
                    r = session.post(url, json={"job_type": "send_email", "payload": PAYLOAD})
                    out.append(time.perf_counter() - t0)
                    if r.status_code != 201:
                        raise SystemExit(f"HTTP {r.status_code}: {r.text}")

        wall, got = run_threads(clients, work)
        lat["http"].extend(got)
        return clients * per / wall

    def shared() -> float:
        with Client(db, config) as client:

            def work(_: int, out: list[float]) -> None:
                for _ in range(per):
                    t0 = time.perf_counter()
                    client.enqueue(job_type="send_email", payload=PAYLOAD)
                    out.append(time.perf_counter() - t0)

            wall, got = run_threads(clients, work)
            groups = client.group_commit
            sys.stderr.write(
                f"    shared Client: {groups.enqueues} enqueues in {groups.commits} commits"
                f" (largest group {groups.largest})\n"
            )
        lat["shared"].extend(got)
        return clients * per / wall

    def own() -> float:
        def work(_: int, out: list[float]) -> None:
            with Client(db, config) as client:
                for _ in range(per):
                    t0 = time.perf_counter()
                    client.enqueue(job_type="send_email", payload=PAYLOAD)
                    out.append(time.perf_counter() - t0)

        wall, got = run_threads(clients, work)
        lat["own"].extend(got)
        return clients * per / wall

    section(f"enqueue: {clients} concurrent clients x {per} jobs, {rounds} rounds (jobs/s)")
    out = interleave(
        rounds,
        {
            "http": over_http,
            "raw": lambda: raw_full_inserts(db.parent, RAW_ROWS),
            "shared": shared,
            "own": own,
        },
        "enqueue ",
    )
    for name, what in (
        ("raw", "raw 1-row FULL inserts, one thread"),
        ("http", f"HTTP, {clients} keep-alive clients"),
        ("shared", f"{clients} threads, one shared Client"),
        ("own", f"{clients} threads, a Client each"),
    ):
        say(f"{what:36} {spread(out[name], fmt='.0f')}")
    raw = statistics.median(out["raw"])
    p99 = percentile(lat["http"], 99) * 1000
    for name, target in (("http", 0.75), ("shared", 2.0), ("own", None)):
        ratio = statistics.median(out[name]) / raw
        rounds_ratio = [x / r for x, r in zip(out[name], out["raw"], strict=True)]
        note = f"  {verdict(ratio, target)}" if target is not None else "  (info)"
        say(f"{name}/raw: {ratio:.3f}{note}; per round {spread(rounds_ratio, fmt='.3f')}")
    say(f"http p99 {p99:.1f} ms  {verdict(p99, 50, higher_is_better=False)} (ms)")
    for name, values in lat.items():
        p50, p99 = percentile(values, 50) * 1000, percentile(values, 99) * 1000
        say(f"{name:6} latency per enqueue: p50 {p50:.1f} ms, p99 {p99:.1f} ms")


if __name__ == "__main__":
    main()
