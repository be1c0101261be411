"""CLI start-up cost: `jobctl enqueue -- true` wall time (the venv's console script, an
existing DB in a fresh temp dir) vs `python -c 'import sqlite3'` with the same interpreter,
interleaved. Target: jobctl <= 5x the bare interpreter.

Then `python -X importtime` of the same command: the 15 largest cumulative imports, and
whether rich, croniter, psutil, dateutil or yaml load on this path (none of them should).

    /tmp/devvenv/bin/python bench/startup.py [--quick]
"""

from __future__ import annotations

import os
import statistics
import subprocess
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
    timed,
    verdict,
)

MUST_NOT_LOAD = ("rich", "croniter", "psutil", "dateutil", "yaml")


def run(argv: list[str], env: dict[str, str]) -> float:
    return timed(lambda: subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL))


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
        run([PYTHON, "-c", "import sqlite3"], env)  # the baseline's byte code cached too
        section(f"`jobctl enqueue -- true` vs `python -c 'import sqlite3'` ({rounds} rounds, ms)")
        res = interleave(
            rounds,
            {
                "python": lambda: run([PYTHON, "-c", "import sqlite3"], env),
                "jobctl": lambda: run(enqueue, env),
            },
        )
        for name in ("python", "jobctl"):
            say(f"{name:7}: {spread(res[name], 1e3, '.1f')} ms")
        say(f"(info) first run, creating the DB: {first * 1e3:.1f} ms")
        ratio = statistics.median(res["jobctl"]) / statistics.median(res["python"])
        say(f"jobctl/python wall time: x{ratio:.2f}  {verdict(ratio, 5, higher_is_better=False)}")

        section("python -X importtime jobctl enqueue -- true: top 15 cumulative (ms)")
        rows = importtime([*enqueue], env)
        for self_us, cumulative, name in sorted(rows, key=lambda r: -r[1])[:15]:
            say(f"{cumulative / 1e3:8.1f} cumulative {self_us / 1e3:7.1f} self  {name}")
        total = sum(r[0] for r in rows) / 1e3
        say(f"(all {len(rows)} imports: {total:.1f} ms self time in total)")
        tops = {name.strip().split(".")[0] for _, _, name in rows}
        loaded = [m for m in MUST_NOT_LOAD if m in tops]
        for module in MUST_NOT_LOAD:
            say(f"  {module:9} {'LOADED' if module in tops else 'not loaded'}")
        say(f"must-not-load check: {'FAIL: ' + ', '.join(loaded) if loaded else 'PASS'}")
        if "yaml" in loaded and os.geteuid() == 0 and Path("/etc/jobctl/config.yaml").exists():
            say("  (yaml: running as root, the default config /etc/jobctl/config.yaml exists)")
        heavy = sorted({n.strip().split(".")[0] for _, c, n in rows if c > 5000} - {"jobctl"})
        say(f"(info) top-level packages with an import over 5 ms: {', '.join(heavy)}")
        Path(db).unlink(missing_ok=True)


if __name__ == "__main__":
    main()
