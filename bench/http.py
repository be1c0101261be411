"""Enqueue over the daemon's HTTP API vs the Python Client, same machine, same run.

8 concurrent clients, each a thread with its own keep-alive `httpx.Client`, POST
`/internal/jobs` ({"job_type", "payload"}) to a real `jobctl daemon --http 127.0.0.1:0`;
the baseline is 8 threads, each with its own `jobctl.Client`, enqueueing the same job type
directly. The queue is paused so the daemon runs nothing meanwhile. Rounds alternate
(ABAB…). Reports requests/s (median over rounds), the ratio HTTP / direct, and p99
latency per request over all rounds.

    /tmp/devvenv/bin/python bench/http.py [--quick] [--clients 8] [--per-client 200]
"""

from __future__ import annotations

import re
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


def measure(url: str, token: str, db: Path, cfg: Path, clients: int, per: int, rounds: int) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    config = load_config(str(cfg))
    http_lat: list[float] = []
    direct_lat: list[float] = []

    def over_http() -> float:
        def work(_: int, lat: list[float]) -> None:
            with httpx.Client(headers=headers, timeout=30) as session:
                for _ in range(per):
                    t0 = time.perf_counter()
                    r = session.post(url, json={"job_type": "send_email", "payload": PAYLOAD})
                    lat.append(time.perf_counter() - t0)
                    if r.status_code != 201:
                        raise SystemExit(f"HTTP {r.status_code}: {r.text}")

        wall, lat = run_threads(clients, work)
        http_lat.extend(lat)
        return clients * per / wall

    def direct() -> float:
        def work(_: int, lat: list[float]) -> None:
            with Client(db, config) as client:
                for _ in range(per):
                    t0 = time.perf_counter()
                    client.enqueue(job_type="send_email", payload=PAYLOAD)
                    lat.append(time.perf_counter() - t0)

        wall, lat = run_threads(clients, work)
        direct_lat.extend(lat)
        return clients * per / wall

    section(f"enqueue: {clients} concurrent clients x {per} jobs, {rounds} rounds")
    out = interleave(rounds, {"http": over_http, "direct": direct}, "enqueue ")
    say(f"http   req/s  {spread(out['http'], fmt='.0f')}")
    say(f"direct jobs/s {spread(out['direct'], fmt='.0f')}")
    ratio = statistics.median(out["http"]) / statistics.median(out["direct"])
    say(f"ratio http/direct (median req/s): {ratio:.3f}")
    for name, lat in (("http", http_lat), ("direct", direct_lat)):
        p50, p99 = percentile(lat, 50) * 1000, percentile(lat, 99) * 1000
        say(f"{name:6} latency per enqueue: p50 {p50:.1f} ms, p99 {p99:.1f} ms")


if __name__ == "__main__":
    main()
