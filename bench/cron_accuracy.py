"""Cron accuracy: a per-second schedule on an idle daemon for 60 s (10 s with --quick);
fire lateness (when the fire was handled, and when its job started, vs the nominal second),
median and p99. Then the idle daemon's CPU with 1000 schedules defined. Then the scheduler's
cost per fire of a per-second schedule through both DST transition days of Europe/Berlin
against a plain day, on an injected clock (an hour of fires around each transition).
Targets (issue 4): lateness p99 <= 50 ms; idle CPU < 1% of a core; (issue 13) a DST day's
fire costs what a plain day's does, far below the schedule's 1 s interval.

    .venv/bin/python bench/cron_accuracy.py [--quick]
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from datetime import UTC, datetime

import psutil
from _common import JOBCTL, fresh_dir, isolated_env, parser, percentile, say, section


def _daemon(env: dict[str, str], log) -> subprocess.Popen[bytes]:  # type: ignore[no-untyped-def]
    proc = subprocess.Popen([JOBCTL, "daemon"], env=env, stderr=log)
    time.sleep(1.0)
    return proc


def lateness(seconds: int) -> None:
    section(f"per-second schedule for {seconds} s")
    with fresh_dir() as tmp:
        env = isolated_env(tmp, JOBCTL_DB=str(tmp / "j.db"))
        subprocess.run(
            [
                JOBCTL,
                "schedule",
                "add",
                "tick",
                "--cron",
                "* * * * * *",
                "--tz",
                "UTC",
                "--overlap",
                "allow",
                "--",
                "true",
            ],
            env=env,
            check=True,
            capture_output=True,
        )
        with (tmp / "d.log").open("w") as log:
            proc = _daemon(env, log)
            ready = datetime.now(UTC)  # fires due before the daemon was up are misfires
            time.sleep(seconds)
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
        text = (tmp / "d.log").read_text()
        handled = [
            float(late) * 1000
            for nominal, late in re.findall(r"nominal_at=(\S+) .*?lateness=([0-9.]+)", text)
            if datetime.fromisoformat(nominal.replace("Z", "+00:00")) > ready
        ]
        jobs = json.loads(
            subprocess.run(
                [JOBCTL, "-o", "json", "list", "--limit", "100000"],
                env=env,
                check=True,
                capture_output=True,
            ).stdout
        )
        started = [
            (
                datetime.fromisoformat(j["started_at"].replace("Z", "+00:00"))
                - datetime.fromisoformat(j["nominal_at"].replace("Z", "+00:00"))
            ).total_seconds()
            * 1000
            for j in jobs
            if j["started_at"]
            and datetime.fromisoformat(j["nominal_at"].replace("Z", "+00:00")) > ready
        ]
    for name, values in (("fire handled", handled), ("job started", started)):
        p99 = percentile(values, 99)
        verdict = "PASS" if p99 <= 50 else "FAIL"
        say(
            f"{name}: n={len(values)} median {percentile(values, 50):.1f} ms, "
            f"p99 {p99:.1f} ms, max {max(values):.1f} ms  {verdict} (target p99 <= 50 ms)"
        )


def idle_cpu(schedules: int, seconds: float) -> None:
    section(f"idle daemon CPU with {schedules} schedules over {seconds:.0f} s")
    with fresh_dir() as tmp:
        env = isolated_env(tmp, JOBCTL_DB=str(tmp / "j.db"))
        from jobctl.config.schedules import build_schedule
        from jobctl.store import open_store

        store = open_store(str(tmp / "j.db"))
        now = datetime.now(UTC)
        for n in range(schedules):
            spec = {"cron": f"{n % 60} {n % 24} * * *", "tz": "Europe/Berlin", "command": ["true"]}
            store.schedules.add(build_schedule(f"s{n}", spec), now)
        store.close()
        with (tmp / "d.log").open("w") as log:
            proc = _daemon(env, log)
            time.sleep(2)
            ps = psutil.Process(proc.pid)
            before, started = ps.cpu_times(), time.monotonic()
            time.sleep(seconds)
            after = ps.cpu_times()
            share = ((after.user + after.system) - (before.user + before.system)) / (
                time.monotonic() - started
            )
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
    say(
        f"idle CPU: {100 * share:.2f}% of a core  {'PASS' if share < 0.01 else 'FAIL'}"
        " (target < 1%)"
    )


def dst_days(seconds: int) -> None:
    """The scheduler as the daemon drives it (tick, then the next fire), second by second on a
    manual clock, so a whole DST hour takes no hour; the per-tick wall time is the cost."""
    import io
    import random
    from datetime import timedelta

    from jobctl.config.model import Config
    from jobctl.config.schedules import build_schedule
    from jobctl.runtime.eventlog import EventLog
    from jobctl.runtime.scheduler import Scheduler
    from jobctl.store import open_store
    from tests.support.clock import ManualClock

    section(f"per-second schedule in Europe/Berlin, {seconds} s of fires around each transition")
    days = {
        "plain day (06-01)": datetime(2026, 6, 1, 1, 0, tzinfo=UTC),
        "spring forward (03-29)": datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
        "fall back (10-25)": datetime(2026, 10, 25, 1, 0, tzinfo=UTC),
    }
    medians = {}
    for label, transition in days.items():
        with fresh_dir() as tmp:
            store = open_store(str(tmp / "j.db"))
            clock = ManualClock(transition - timedelta(seconds=seconds // 2))
            spec = {"cron": "* * * * * *", "tz": "Europe/Berlin", "command": ["true"]}
            store.schedules.add(build_schedule("tick", {**spec, "overlap": "allow"}), clock.now())
            sched = Scheduler(
                store, clock, EventLog("logfmt", io.StringIO()), Config, random.Random(1)
            )
            sched.start(clock.now())
            costs, fired = [], 0
            for _ in range(seconds):
                clock.advance(1)
                started = time.perf_counter()
                fired += sched.tick(clock.now())
                costs.append((time.perf_counter() - started) * 1000)
            store.close()
        medians[label] = percentile(costs, 50)
        p99 = percentile(costs, 99)
        verdict = "PASS" if fired == seconds and max(costs) < 250 else "FAIL"
        say(
            f"{label}: {fired}/{seconds} fires, per fire median {medians[label]:.2f} ms, "
            f"p99 {p99:.2f} ms, max {max(costs):.1f} ms  {verdict} (keeps up: every fire, "
            "each well under the 1 s interval)"
        )
    plain = medians["plain day (06-01)"]
    ratios = ", ".join(f"{k} {v / plain:.2f}x" for k, v in medians.items() if v is not plain)
    say(f"DST day / plain day median cost: {ratios} (target ~1x)")


def main() -> None:
    args = parser(__doc__).parse_args()
    lateness(10 if args.quick else 60)
    idle_cpu(1000, 5 if args.quick else 10)
    dst_days(600 if args.quick else 3600)


if __name__ == "__main__":
    main()
