"""Mark-then-sweep on a large SQLite table, against one naive DELETE, with a writer.

A table of --rows rows (default 1,000,000) is built once and copied twice. On copy A every
row is marked (`tag = 'old'`) and swept by the engine (--batch, --pause) in a child process
(its peak RSS is the sweep's), while a concurrent writer process inserts one row per
transaction; on copy B the same rows go in one `DELETE ... WHERE`, with the same writer.

Reported: marking rows/s; sweep rows/s; the longest single batch (one write transaction,
lock wait included: an upper bound); the child's peak RSS; the writer's inserts and its
longest wait; naive DELETE rows/s and the writer's longest wait then; the ratio
sweep rows/s / naive rows/s. Targets: peak RSS <= 100 MB, longest transaction <= 200 ms.

    /tmp/devvenv/bin/python bench/sweep.py [--rows 1000000] [--batch 500] [--pause 0]
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from _common import PYTHON, ROOT, fresh_dir, machine_line, parser, say, section, verdict

WRITER = """
import json, sqlite3, sys, time, os
path, stop = sys.argv[1], sys.argv[2]
con = sqlite3.connect(path, timeout=60, isolation_level=None)
n, worst, i = 0, 0.0, 10**9
while not os.path.exists(stop):
    i += 1
    t = time.perf_counter()
    con.execute("INSERT INTO t (id, v, tag) VALUES (?, ?, 'new')", (i, i))
    worst = max(worst, time.perf_counter() - t)
    n += 1
    time.sleep(0.005)
print(json.dumps({"inserts": n, "worst": worst}))
"""


def build(path: Path, rows: int, journal: str) -> None:
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA journal_mode = {journal}")
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL, tag TEXT)")
    chunk = 100_000
    for start in range(0, rows, chunk):
        con.executemany(
            "INSERT INTO t (id, v, tag) VALUES (?, ?, 'old')",
            ((i, i) for i in range(start + 1, min(start + chunk, rows) + 1)),
        )
        con.commit()
    con.close()


class Writer:
    def __init__(self, path: Path) -> None:
        self.stop = path.with_suffix(".stop")
        self.proc = subprocess.Popen(
            [PYTHON, "-c", WRITER, str(path), str(self.stop)], stdout=subprocess.PIPE, text=True
        )
        time.sleep(0.3)

    def finish(self) -> dict:
        self.stop.touch()
        out, _ = self.proc.communicate(timeout=120)
        return json.loads(out)


def child(target: Path, jobctl_db: Path, batch: int, pause: float) -> None:
    """The sweep itself, in its own process: mark every row, then run the engine."""
    import resource

    sys.path.insert(0, str(ROOT))
    from jobctl.clock import SystemClock
    from jobctl.ops import sweep as ops
    from jobctl.ops.sweep_engine import RunOptions, sweep_marked
    from jobctl.store import open_store
    from jobctl.store.targets import Plan, open_target

    store, clock = open_store(str(jobctl_db)), SystemClock()
    started = time.perf_counter()
    s = ops.mark(store, ops.MarkRequest(str(target), "t", "tag = 'old'", "bench", 0.0),
                 clock.now(), "bench")  # fmt: skip
    mark_s = time.perf_counter() - started
    inner = open_target(s.target)
    plan = Plan(s.token, inner.resolve_table("t"), s.predicate)
    longest, locked = [0.0], [0.0]
    seen: list[float] = []

    def trace(statement: str) -> None:  # the 2nd statement runs once BEGIN got the lock
        seen.append(time.perf_counter())

    inner.rw.set_trace_callback(trace)  # type: ignore[attr-defined]

    class Timed:
        def __getattr__(self, name: str) -> object:
            return getattr(inner, name)

        def sweep_batch(self, plan: Plan, limit: int) -> object:
            seen.clear()
            t = time.perf_counter()
            result = inner.sweep_batch(plan, limit)
            end = time.perf_counter()
            locked[0] = max(locked[0], end - t)
            longest[0] = max(longest[0], end - (seen[1] if len(seen) > 1 else t))
            return result

    writer = Writer(target)
    started = time.perf_counter()
    final = sweep_marked(Timed(), plan, RunOptions(batch, pause), clock)  # type: ignore[arg-type]
    run_s = time.perf_counter() - started
    w = writer.finish()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    figures = {"marked": s.marked, "mark_s": mark_s, "deleted": final.deleted, "run_s": run_s,
               "longest": longest[0], "with_wait": locked[0], "rss": rss, "writer": w}  # fmt: skip
    print(json.dumps(figures))


def naive(target: Path) -> dict:
    writer = Writer(target)
    con = sqlite3.connect(target, timeout=60, isolation_level=None)
    started = time.perf_counter()
    deleted = con.execute("DELETE FROM t WHERE tag = 'old'").rowcount
    took = time.perf_counter() - started
    con.close()
    return {"deleted": deleted, "s": took, "writer": writer.finish()}


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--pause", type=float, default=0.0, help="seconds between batches")
    p.add_argument("--journal", default="wal", help="target journal mode: wal or delete")
    p.add_argument("--child", nargs=2, help=argparse_hidden())
    args = p.parse_args()
    if args.child:
        child(Path(args.child[0]), Path(args.child[1]), args.batch, args.pause)
        return
    rows = 20_000 if args.quick else args.rows
    say(machine_line())
    with fresh_dir() as tmp:
        base = tmp / "base.db"
        section(f"build {rows} rows ({args.journal})")
        build(base, rows, args.journal)
        a, b = tmp / "a.db", tmp / "b.db"
        shutil.copy(base, a)
        shutil.copy(base, b)
        section(f"sweep: batch {args.batch}, pause {args.pause}s, concurrent writer")
        out = subprocess.run(
            [PYTHON, __file__, "--batch", str(args.batch), "--pause", str(args.pause),
             "--child", str(a), str(tmp / "jobctl.db")],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        s = json.loads(out.strip().splitlines()[-1])
        sweep_rate = s["deleted"] / s["run_s"]
        mark_rate = s["marked"] / s["mark_s"]
        say(f"marked {s['marked']} rows in {s['mark_s']:.2f}s ({mark_rate:.0f} rows/s)")
        say(f"swept {s['deleted']} rows in {s['run_s']:.2f}s: {sweep_rate:.0f} rows/s")
        ms = s["longest"] * 1000
        say(f"longest write transaction: {ms:.1f} ms  {verdict(ms, 200, False)}")
        say(f"longest batch including its wait for the lock: {s['with_wait'] * 1000:.1f} ms")
        mb = s["rss"] / 2**20
        say(f"peak RSS of the sweeping process: {mb:.1f} MB  {verdict(mb, 100, False)}")
        _writer(s["writer"])
        section("naive: one DELETE ... WHERE, same writer")
        n = naive(b)
        naive_rate = n["deleted"] / n["s"]
        say(f"deleted {n['deleted']} rows in {n['s']:.2f}s: {naive_rate:.0f} rows/s (one txn)")
        _writer(n["writer"])
        section("ratio")
        say(f"sweep rows/s / naive rows/s = {sweep_rate / naive_rate:.3f}")


def _writer(w: dict) -> None:
    say(f"writer: {w['inserts']} inserts, longest wait {w['worst'] * 1000:.1f} ms")


def argparse_hidden() -> str:
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    main()
