"""jobctl vs procrastinate on the same PostgreSQL server: the same 2000-job drain.

2000 no-op jobs are waiting; the time runs from starting one worker process to its exit once
the queue is empty (start-up included, for both): `jobctl daemon --burst --concurrency 4`
with a no-op handler job type, vs procrastinate's `app.run_worker(concurrency=4,
wait=False)` with a no-op sync task. Target: jobctl >= procrastinate (ratio >= 1).

procrastinate lives only in the bench venv (the `bench` extra):

    python3 -m venv .benchvenv && .benchvenv/bin/pip install -e '.[bench]'
    .benchvenv/bin/python bench/pg_procrastinate.py [--quick] [--rounds N]
"""

from __future__ import annotations

import subprocess
import sys
import time

from _common import (
    JOBCTL,
    PYTHON,
    fresh_dir,
    interleave,
    machine_line,
    parser,
    ratio_line,
    say,
    section,
    spread,
)
from pg_claim import SERVER, Setup, database, sql1

from jobctl.config.resolve import EnqueueOptions

PROCBENCH = """\
import os

from procrastinate import App, PsycopgConnector

app = App(connector=PsycopgConnector(conninfo=os.environ["PROC_DB"]))


@app.task(name="noop")
def noop():
    pass
"""


def jobctl_round(setup: Setup, url: str, n: int) -> float:
    with setup.client(url) as client:
        client.enqueue_options([EnqueueOptions(job_type="noop")] * n)
    before = time.perf_counter()
    with open(setup.tmp / "burst.log", "ab") as log:
        subprocess.run(
            [JOBCTL, "--db", url, "daemon", "--burst", "--concurrency", "4", "--node", "p1"],
            env={**setup.env, "RUNTIME_DIRECTORY": str(setup.tmp / "run")},
            stdout=log, stderr=log, check=True, cwd=setup.tmp,
        )  # fmt: skip
    took = time.perf_counter() - before
    left = sql1(url, "SELECT count(*) FROM jobctl.jobs WHERE state <> 'succeeded'")
    if left:
        raise SystemExit(f"jobctl left {left} jobs unfinished")
    return took


def procrastinate_round(setup: Setup, url: str, n: int) -> float:
    env = {**setup.env, "PROC_DB": url}
    defer = (
        "import sys, procbench\nwith procbench.app.open():\n"
        "    procbench.noop.batch_defer(*[{}] * int(sys.argv[1]))"
    )
    subprocess.run([PYTHON, "-c", defer, str(n)], env=env, check=True, cwd=setup.tmp)
    work = "import procbench; procbench.app.run_worker(concurrency=4, wait=False)"
    before = time.perf_counter()
    with open(setup.tmp / "procrastinate.log", "ab") as log:
        subprocess.run([PYTHON, "-c", work], env=env, stdout=log, stderr=log, check=True,
                       cwd=setup.tmp)  # fmt: skip
    took = time.perf_counter() - before
    left = sql1(url, "SELECT count(*) FROM procrastinate_jobs WHERE status <> 'succeeded'")
    if left:
        raise SystemExit(f"procrastinate left {left} jobs unfinished")
    return took


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    n = 500 if args.quick else 2000
    try:
        import procrastinate  # noqa: F401
    except ImportError:
        sys.exit("procrastinate is not installed here: run this in the bench venv (see --help)")
    say(machine_line())
    say(f"server {SERVER}")
    with fresh_dir() as tmp, database("jc") as jc_url, database("proc") as proc_url:
        setup = Setup(tmp)
        (tmp / "procbench.py").write_text(PROCBENCH)
        subprocess.run(
            [PYTHON, "-c", "import procbench\nwith procbench.app.open(): "
             "procbench.app.schema_manager.apply_schema()"],
            env={**setup.env, "PROC_DB": proc_url}, check=True, cwd=tmp,
        )  # fmt: skip
        section(f"{n} no-op jobs, one worker process of concurrency 4, start to exit")
        res = interleave(
            args.rounds,
            {
                "jobctl": lambda: jobctl_round(setup, jc_url, n),
                "procrastinate": lambda: procrastinate_round(setup, proc_url, n),
            },
        )
    say(f"  jobctl daemon --burst:      {spread(res['jobctl'])} s")
    say(f"  procrastinate run_worker:   {spread(res['procrastinate'])} s")
    say("  " + ratio_line("jobctl vs procrastinate", res["jobctl"], res["procrastinate"], 1.0))


if __name__ == "__main__":
    main()
