"""Shared helpers for the bench scripts: timing, summaries, interleaved rounds, temp dirs,
the venv's interpreter and console script, and an isolated environment for subprocesses."""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# The interpreter running this script (the venv's bin/python, never resolved to the base
# interpreter) and the console script installed beside it.
PYTHON = sys.executable
JOBCTL = str(Path(sys.executable).parent / "jobctl")


def parser(doc: str | None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=(doc or "").strip().splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a fast smoke run (fewer, smaller rounds)")
    return p


def timed(fn: Callable[[], object]) -> float:
    """Wall seconds of one call."""
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile, q in [0, 100]."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def spread(values: list[float], scale: float = 1.0, fmt: str = ".3f") -> str:
    """`median [min..max] IQR x` with every figure multiplied by `scale`."""
    med = statistics.median(values) * scale
    lo, hi = min(values) * scale, max(values) * scale
    iqr = (percentile(values, 75) - percentile(values, 25)) * scale
    return (
        f"median {med:{fmt}} [min {lo:{fmt}} .. max {hi:{fmt}}] IQR {iqr:{fmt}} (n={len(values)})"
    )


def interleave(
    rounds: int, subjects: Mapping[str, Callable[[], float]], label: str = ""
) -> dict[str, list[float]]:
    """Run every subject once per round, in alternating order (ABAB, then BABA...), so drift
    hits all alike. Each subject returns its own measurement (seconds, usually)."""
    out: dict[str, list[float]] = {name: [] for name in subjects}
    names = list(subjects)
    for n in range(rounds):
        order = names if n % 2 == 0 else names[::-1]
        for name in order:
            out[name].append(subjects[name]())
        line = "  ".join(f"{name} {out[name][-1]:.6g}" for name in names)
        sys.stderr.write(f"  {label}round {n + 1}/{rounds}: {line}\n")
    return out


def verdict(ratio: float, target: float, higher_is_better: bool = True) -> str:
    ok = ratio >= target if higher_is_better else ratio <= target
    sign = ">=" if higher_is_better else "<="
    return f"{'PASS' if ok else 'FAIL'} (target {sign} {target:g})"


def ratio_line(name: str, subject: list[float], baseline: list[float], target: float) -> str:
    """Throughput ratio from per-round times: median(baseline time) / median(subject time)
    (1.0 = as fast as the baseline)."""
    ratio = statistics.median(baseline) / statistics.median(subject)
    return f"{name}: ratio {ratio:.3f}  {verdict(ratio, target)}"


def ceiling_line(what: str, schema: list[float], raw: list[float]) -> str:
    """The best ratio to `raw` that jobctl could reach: `what` (jobctl's rows, statements and
    schema) timed from raw sqlite3, with no Python of ours."""
    ratio = statistics.median(raw) / statistics.median(schema)
    return f"  (ceiling) {what} from raw sqlite3, no Python of ours: ratio {ratio:.3f} of raw"


def machine_line() -> str:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"python {sys.version.split()[0]} at {PYTHON}; {os.cpu_count()} CPUs; loadavg {load}"


def section(title: str) -> None:
    sys.stdout.write(f"\n== {title}\n")
    sys.stdout.flush()


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


@contextlib.contextmanager
def fresh_dir(prefix: str = "jobctl-bench-") -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield Path(tmp)


PYCACHE = Path(tempfile.gettempdir()) / "jobctl-bench-pycache"  # shared by runs: warm after one


def isolated_env(home: Path, **extra: str) -> dict[str, str]:
    """os.environ without JOBCTL_* settings, with HOME/XDG pointing into `home` (so no user
    config or DB is picked up), plus `extra`. Byte code is cached (in PYCACHE) even when the
    caller's environment sets PYTHONDONTWRITEBYTECODE: an installed jobctl has its .pyc
    files, and compiling ~200 modules on every start is not what users see."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("JOBCTL_") and k != "PYTHONDONTWRITEBYTECODE"
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_STATE_HOME=str(home / "state"),
        PYTHONPYCACHEPREFIX=str(PYCACHE),
    )
    env.update(extra)
    return env


def wait_for(predicate: Callable[[], bool], timeout: float, poll: float = 0.005) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll)
    return predicate()
