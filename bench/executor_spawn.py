"""Spawn throughput: 2000 `true` through the Executor, 4 in flight, against
`seq 2000 | xargs -P 4 -n 1 true`. Interleaved rounds; prints medians and the ratio
(xargs time / executor time: 1.0 means as fast as xargs, the target is >= 0.7).

    python bench/executor_spawn.py [--jobs 2000] [--concurrency 4] [--rounds 3] [--cwd]
                                   [--log-dir DIR]

--cwd gives every launch a cwd, which takes the subprocess.Popen path instead of posix_spawn.
Each attempt creates its log file, as in the daemon; --log-dir puts them on another
filesystem (e.g. /dev/shm) to tell file-creation cost apart from spawning cost.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jobctl.runtime.executor import Executor, Launch


def run_executor(jobs: int, concurrency: int, log_dir: Path, cwd: str | None) -> float:
    env = dict(os.environ)
    started = time.perf_counter()
    executor = Executor()
    try:
        submitted = done = 0
        while done < jobs:
            while submitted < jobs and len(executor) < concurrency:
                launch = Launch(["true"], env, log_dir / f"{submitted}.log", cwd=cwd)
                executor.start(submitted, launch)
                submitted += 1
            for _key, result in executor.poll(1.0):
                if result.exit_code != 0:
                    raise SystemExit(f"attempt failed: {result}")
                done += 1
    finally:
        executor.close()
    return time.perf_counter() - started


def run_xargs(jobs: int, concurrency: int) -> float:
    started = time.perf_counter()
    subprocess.run(f"seq {jobs} | xargs -P {concurrency} -n 1 true", shell=True, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cwd", action="store_true", help="set cwd (the Popen path)")
    parser.add_argument("--log-dir", type=Path, default=None, help="where logs go (a temp dir)")
    args = parser.parse_args()
    ours: list[float] = []
    theirs: list[float] = []
    with tempfile.TemporaryDirectory(prefix="jobctl-bench-", dir=args.log_dir) as tmp:
        cwd = tmp if args.cwd else None
        for n in range(args.rounds):
            log_dir = Path(tmp) / f"round{n}"
            ours.append(run_executor(args.jobs, args.concurrency, log_dir, cwd))
            theirs.append(run_xargs(args.jobs, args.concurrency))
            sys.stderr.write(f"round {n + 1}: executor {ours[-1]:.3f}s  xargs {theirs[-1]:.3f}s\n")
    ex, xa = statistics.median(ours), statistics.median(theirs)
    where = args.log_dir or tempfile.gettempdir()
    sys.stdout.write(
        f"jobs={args.jobs} concurrency={args.concurrency} rounds={args.rounds}"
        f" path={'popen' if args.cwd else 'posix_spawn'} logs={where}\n"
        f"executor median {ex:.3f}s ({args.jobs / ex:.0f} jobs/s)\n"
        f"xargs    median {xa:.3f}s ({args.jobs / xa:.0f} jobs/s)\n"
        f"throughput ratio executor/xargs = {xa / ex:.2f}\n"
    )


if __name__ == "__main__":
    main()
