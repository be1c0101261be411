"""Claim throughput with 1, 2 and 4 daemons on one SQLite DB (no-op Python handler jobs),
as ratios to the 1-daemon figure; any "locked"/store error in a daemon's log is counted.
Target (issue 3): no errors at any level; ratios reported.

    .venv/bin/python bench/contention.py [--quick]
"""

from __future__ import annotations

import json
import statistics
import subprocess
import time
from pathlib import Path

from _common import JOBCTL, fresh_dir, isolated_env, parser, say, section


def one_round(daemons: int, jobs: int) -> tuple[float, int]:
    """Seconds to drain `jobs` handler jobs with `daemons` daemons; errors seen in logs."""
    with fresh_dir() as tmp:
        (tmp / "benchmod.py").write_text("def noop(payload):\n    pass\n")
        config = tmp / "config.yaml"
        config.write_text('job_types:\n  - name: noop\n    handler: "benchmod:noop"\n')
        env = isolated_env(
            tmp, JOBCTL_DB=str(tmp / "j.db"), JOBCTL_CONFIG=str(config), PYTHONPATH=str(tmp)
        )
        lines = "".join(json.dumps({"type": "noop"}) + "\n" for _ in range(jobs))
        (tmp / "jobs.jsonl").write_text(lines)
        subprocess.run(
            [JOBCTL, "enqueue", "--from", str(tmp / "jobs.jsonl")],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        logs = [tmp / f"d{n}.log" for n in range(daemons)]
        started = time.perf_counter()
        procs = [
            subprocess.Popen(
                [JOBCTL, "daemon", "--burst", "--concurrency", "4", "--node", f"n{n}"],
                env=env,
                stderr=log.open("w"),
            )
            for n, log in enumerate(logs)
        ]
        for proc in procs:
            proc.wait(600)
        elapsed = time.perf_counter() - started
        status = subprocess.run(
            [JOBCTL, "-o", "json", "list", "--state", "succeeded", "--limit", str(jobs + 1)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        done = len(json.loads(status.stdout))
        assert done == jobs, f"only {done} of {jobs} jobs succeeded"
        errors = sum(
            Path(log).read_text().lower().count(word)
            for log in logs
            for word in ("locked", "store.error", "traceback")
        )
        return elapsed, errors


def main() -> None:
    args = parser(__doc__).parse_args()
    jobs, rounds = (1000, 1) if args.quick else (4000, 3)
    section(f"{jobs} no-op handler jobs, daemons --burst --concurrency 4, {rounds} rounds")
    results: dict[int, list[float]] = {1: [], 2: [], 4: []}
    errors = 0
    for _ in range(rounds):
        for count in results:  # interleaved
            elapsed, errs = one_round(count, jobs)
            results[count].append(elapsed)
            errors += errs
    base = jobs / statistics.median(results[1])
    for count, times in results.items():
        rate = jobs / statistics.median(times)
        say(
            f"{count} daemon(s): median {statistics.median(times):.3f} s "
            f"[{min(times):.3f}..{max(times):.3f}]  {rate:,.0f} jobs/s  ratio {rate / base:.2f}"
        )
    say(
        f"errors in daemon logs (locked / store.error / traceback): {errors}"
        f"  {'PASS' if errors == 0 else 'FAIL'} (target 0)"
    )


if __name__ == "__main__":
    main()
