"""CLI start-up cost: `jobctl enqueue -- true` wall time (the venv's console script, an
existing DB in a fresh temp dir, no config file) vs `python -c 'import typer, sqlite3'` with
the same interpreter (the floor of any typer CLI on SQLite), interleaved rounds; `python -c
'import sqlite3'` is shown for reference. Target (issue 16): jobctl <= 1.5x the typer floor.

Then `python -X importtime` of the same command: the 15 largest cumulative imports, and
whether any module enqueue does not need loads on this path (MUST_NOT_LOAD: none should).

    /tmp/devvenv/bin/python bench/startup.py [--quick]

The issue's figure is for a non-editable install (an editable one adds its import hook to
every start): python3 -m venv /tmp/v && /tmp/v/bin/pip install . && /tmp/v/bin/python
bench/startup.py (the script runs the `jobctl` beside the interpreter that runs it).
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import subprocess
import time
from pathlib import Path

from _common import (
    JOBCTL,
    PYTHON,
    fresh_dir,
    interleave,
    isolated_env,
    machine_line,
    parser,
    say,
    section,
    spread,
    verdict,
)

# Top-level packages or dotted modules (a prefix match) that `jobctl enqueue` must not load.
MUST_NOT_LOAD = (
    "rich",
    "croniter",
    "psutil",
    "dateutil",
    "yaml",
    "tomllib",
    "prometheus_client",
    "psycopg",
    "jobctl.runtime",
    "jobctl.cli.schedules",
    "jobctl.cli.daemon",
    "http.server",
    "hashlib",
)
TARGET = 1.5  # issue 16's table: `jobctl enqueue -- true` <= 1.5x `import typer, sqlite3`


CPU: dict[str, list[float]] = {}  # per command: user+sys CPU seconds of each run


def run(argv: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one run; its CPU time (user+sys, from wait4) goes to CPU."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    took = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv} failed: {status}")
    CPU.setdefault(" ".join(argv), []).append(usage.ru_utime + usage.ru_stime)
    return took


def importtime(argv: list[str], env: dict[str, str]) -> list[tuple[int, int, str]]:
    """(self us, cumulative us, dotted name) for every import the command made."""
    proc = subprocess.run(
        [PYTHON, "-X", "importtime", *argv], env=env, check=True, capture_output=True, text=True
    )
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative, name = line.removeprefix("import time:").split("|")
        rows.append((int(self_us), int(cumulative), name.rstrip()))
    return rows


def main() -> None:
    args = parser(__doc__).parse_args()
    rounds = 5 if args.quick else 20
    say(machine_line())
    with fresh_dir() as tmp:
        env = isolated_env(tmp)
        db = tmp / "jobs.db"
        enqueue = [JOBCTL, "--db", str(db), "enqueue", "--", "true"]
        first = run(enqueue, env)  # creates the DB: reported, not part of the comparison
        floor = [PYTHON, "-c", "import typer, sqlite3"]
        bare = [PYTHON, "-c", "import sqlite3"]
        run(floor, env)  # the baselines' byte code cached too
        section(
            f"`jobctl enqueue -- true` vs `python -c 'import typer, sqlite3'` "
            f"({rounds} interleaved rounds, ms)"
        )

        def held() -> float:
            """The enqueue while another connection holds the DB open, as a running daemon
            does: the CLI's close is then not the last, so it does no checkpoint (an fsync
            of the DB file) on the way out."""
            holder = sqlite3.connect(str(db))
            try:
                holder.execute("SELECT count(*) FROM sqlite_master").fetchone()
                return run(enqueue, env)
            finally:
                holder.close()

        res = interleave(
            rounds,
            {
                "typer": lambda: run(floor, env),
                "jobctl": lambda: run(enqueue, env),
                "python": lambda: run(bare, env),
                "held": held,
            },
        )
        for name, what in (
            ("typer", "python -c 'import typer, sqlite3'"),
            ("jobctl", "jobctl enqueue -- true"),
            ("python", "python -c 'import sqlite3' (info)"),
            ("held", "the same, DB held open (info)"),
        ):
            say(f"{what:36}: {spread(res[name], 1e3, '.1f')}")
        say(f"(info) first run, creating the DB: {first * 1e3:.1f} ms")
        ratios = [j / t for j, t in zip(res["jobctl"], res["typer"], strict=True)]
        ratio = statistics.median(res["jobctl"]) / statistics.median(res["typer"])
        say(f"per-round jobctl/typer ratios: {spread(ratios, 1, '.2f')}")
        extra = (statistics.median(res["jobctl"]) - statistics.median(res["typer"])) * 1e3
        say(f"jobctl adds {extra:.1f} ms to the typer floor")
        result = verdict(ratio, TARGET, higher_is_better=False)
        say(f"jobctl/typer wall time: x{ratio:.2f}  {result}")
        held_ratio = statistics.median(res["held"]) / statistics.median(res["typer"])
        say(f"(info) with the DB held open (a daemon running): x{held_ratio:.2f}")
        best = min(res["jobctl"]) / min(res["typer"])
        say(f"(info) best of each, jobctl/typer: x{best:.2f} (least disturbed by other load)")
        cpu_j, cpu_t = CPU[" ".join(enqueue)][1:], CPU[" ".join(floor)][1:]
        cpu = statistics.median(cpu_j) / statistics.median(cpu_t)
        say(
            f"(info) CPU time (user+sys): jobctl {statistics.median(cpu_j) * 1e3:.1f} ms,"
            f" typer floor {statistics.median(cpu_t) * 1e3:.1f} ms: x{cpu:.2f}"
        )

        section("python -X importtime jobctl enqueue -- true: top 15 cumulative (ms)")
        rows = importtime([*enqueue], env)
        for self_us, cumulative, name in sorted(rows, key=lambda r: -r[1])[:15]:
            say(f"{cumulative / 1e3:8.1f} cumulative {self_us / 1e3:7.1f} self  {name}")
        total = sum(r[0] for r in rows) / 1e3
        say(f"(all {len(rows)} imports: {total:.1f} ms self time in total)")
        names = {name.strip() for _, _, name in rows}

        def loads(module: str) -> bool:
            return any(n == module or n.startswith(module + ".") for n in names)

        loaded = [m for m in MUST_NOT_LOAD if loads(m)]
        for module in MUST_NOT_LOAD:
            say(f"  {module:20} {'LOADED' if loads(module) else 'not loaded'}")
        say(f"must-not-load check: {'FAIL: ' + ', '.join(loaded) if loaded else 'PASS'}")
        if "yaml" in loaded and os.geteuid() == 0 and Path("/etc/jobctl/config.yaml").exists():
            say("  (yaml: running as root, the default config /etc/jobctl/config.yaml exists)")
        heavy = sorted({n.strip().split(".")[0] for _, c, n in rows if c > 5000} - {"jobctl"})
        say(f"(info) top-level packages with an import over 5 ms: {', '.join(heavy)}")
        Path(db).unlink(missing_ok=True)


if __name__ == "__main__":
    main()
