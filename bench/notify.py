"""Notifications: dispatch throughput with a webhook route on vs off, and how soon a dead
job's event reaches the receiver.

(a) 1000 failing jobs (`false`, one attempt each) drained by `jobctl daemon --burst
    --concurrency 8`, with a `notify:` webhook route for `dead` to a receiver on 127.0.0.1
    (on) and without any notify section (off), interleaved rounds. Target: throughput on/off
    >= 0.9 (the events are written in the finish transaction; delivery runs on its own thread).
(b) A live daemon, 200 failing jobs enqueued one by one ~20 ms apart: per job, the time from
    its `finished_at` (dead) to the receiver's request. Target: median <= 1 s.

    .venv/bin/python bench/notify.py [--quick]
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

_BENCH = sys.path.pop(0)  # bench/http.py would shadow the standard library's http
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402

sys.path.insert(0, _BENCH)

from _common import (  # noqa: E402
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
    timed,
    wait_for,
)

from jobctl import Client  # noqa: E402
from jobctl.config.resolve import EnqueueOptions  # noqa: E402


class Receiver:
    """Records (arrival time, job id) of every POST."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, int]] = []
        lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                at = time.time()
                with lock:
                    receiver.arrivals.append((at, json.loads(body).get("job_id")))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def setup(tmp: Path, receiver: Receiver | None) -> dict[str, str]:
    config = tmp / "config.yaml"
    if receiver is None:
        config.write_text("daemon: {concurrency: 8}\n")
    else:
        (tmp / "hook.url").write_text(receiver.url + "\n")
        config.write_text(
            "notify:\n  channels:\n"
            f"    - {{name: hook, webhook: {{url_file: {tmp / 'hook.url'}}}}}\n"
            "  routes:\n    - {match: {event: dead}, to: [hook]}\n"
        )
    return isolated_env(tmp, JOBCTL_CONFIG=str(config))


def enqueue_failing(db: Path, n: int) -> None:
    with Client(db) as client:
        client.enqueue_options(
            [EnqueueOptions(command=["false"], max_attempts=1) for _ in range(n)]  # type: ignore[arg-type]
        )


def drain(on: bool, n: int) -> float:
    """Seconds for a --burst daemon to drain `n` failing jobs."""
    with fresh_dir() as tmp:
        receiver = Receiver() if on else None
        try:
            env = setup(tmp, receiver)
            db = tmp / "jobs.db"
            enqueue_failing(db, n)
            argv = [JOBCTL, "--db", str(db), "daemon", "--burst", "--concurrency", "8"]
            return timed(lambda: subprocess.run(argv, env=env, check=True, capture_output=True))
        finally:
            if receiver is not None:
                receiver.close()


def latency(n: int) -> list[float]:
    """Seconds from each dead job's finished_at to its webhook request, on a live daemon."""
    with fresh_dir() as tmp:
        receiver = Receiver()
        env = setup(tmp, receiver)
        db = tmp / "jobs.db"
        argv = [JOBCTL, "--db", str(db), "daemon", "--concurrency", "8"]
        daemon = subprocess.Popen(argv, env=env, stderr=subprocess.DEVNULL)
        try:
            time.sleep(1.5)
            ids = []
            with Client(db) as client:
                for _ in range(n):
                    ids.append(
                        client.enqueue_options([EnqueueOptions(command=["false"], max_attempts=1)])[
                            0
                        ].id
                    )  # type: ignore[arg-type]
                    time.sleep(0.02)
            if not wait_for(lambda: len(receiver.arrivals) >= n, 60, 0.05):
                raise SystemExit(f"only {len(receiver.arrivals)} of {n} deliveries arrived")
            arrived = {job: at for at, job in receiver.arrivals}
            with Client(db) as client:
                finished = {i: client.get(i).finished_at for i in ids}
        finally:
            daemon.terminate()
            daemon.wait(30)
            receiver.close()
    return [arrived[i] - finished[i].timestamp() for i in ids]  # type: ignore[union-attr]


def main() -> None:
    args = parser(__doc__).parse_args()
    rounds, jobs, samples = (2, 300, 50) if args.quick else (5, 1000, 200)
    say(machine_line())
    section(f"(a) {jobs} failing jobs, daemon --burst --concurrency 8: notify on vs off")
    times = interleave(rounds, {"on": lambda: drain(True, jobs), "off": lambda: drain(False, jobs)})
    say(f"  on:  {spread(times['on'])} s")
    say(f"  off: {spread(times['off'])} s")
    say(ratio_line("throughput on/off", times["on"], times["off"], 0.9))
    section(f"(b) dead -> receiver's request, live daemon, {samples} jobs")
    seconds = latency(samples)
    say(f"  {spread(seconds, 1000, '.1f')} ms")
    median = statistics.median(seconds)
    say(f"median {median * 1000:.1f} ms  {'PASS' if median <= 1.0 else 'FAIL'} (target <= 1000 ms)")


if __name__ == "__main__":
    main()
