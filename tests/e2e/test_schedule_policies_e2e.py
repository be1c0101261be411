"""Misfire and overlap policies with the real daemon process, seen through the CLI's JSON.

Per-second schedules keep these tests to seconds: the daemon runs with a 1 s misfire grace,
is stopped for a few fires and started again; the overlap schedules run commands longer
than their interval."""

from __future__ import annotations

import itertools
import time
from datetime import datetime, timedelta

import pytest

from jobctl.clock import utcnow
from tests.support.cli import Jobctl
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

GRACE = 1.0  # --misfire-grace of the daemons here: a fire handled later than this was missed
DOWNTIME = 4.0  # seconds without a daemon: about four per-second fires are due meanwhile


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _jobs(jc: Jobctl, schedule: str) -> list[dict]:
    return _by_schedule(jc).get(schedule, [])


def _by_schedule(jc: Jobctl) -> dict[str, list[dict]]:
    """Every job by its schedule, from one `list` call (each call is a process)."""
    out: dict[str, list[dict]] = {}
    for job in jc.json("list", "--limit", "100000"):
        out.setdefault(job["schedule"], []).append(job)
    return out


def _count(jobs: list[dict], state: str) -> int:
    return sum(j["state"] == state for j in jobs)


def _missed(jc: Jobctl, schedule: str) -> list[dict]:
    return jc.json("schedule", "missed", schedule)


def _late(row: dict) -> float:
    """Seconds from a fire's nominal time to its handling (a job is created as it is handled)."""
    if "lateness" in row:
        return row["lateness"]
    return (_at(row["created_at"]) - _at(row["nominal_at"])).total_seconds()


def _handled(row: dict) -> datetime:
    return _at(row["nominal_at"]) + timedelta(seconds=_late(row))


def _first_pass_after(rows: list[dict], moment: datetime) -> list[dict]:
    """The fires the restarted daemon handled in its first pass (they share a handling time)."""
    first = min(_handled(r) for r in rows if _handled(r) > moment)
    return [r for r in rows if abs((_handled(r) - first).total_seconds()) < 0.01]


def test_misfire_policies_after_the_daemon_was_down(jc: Jobctl) -> None:
    for policy in ("skip", "once", "all"):  # overlap allow: a queued catch-up skips nothing
        misfire = ("--misfire", policy, "--overlap", "allow")
        jc.ok("schedule", "add", f"m-{policy}", "--cron", "@every 1s", *misfire, "--", "true")
    jc.start_daemon("--misfire-grace", f"{GRACE}s")
    wait_until(
        lambda: len(by := _by_schedule(jc)) == 3 and all(len(j) >= 2 for j in by.values()),
        20,
        0.2,
        "fires while the daemon runs",
    )
    jc.stop_daemons()
    time.sleep(DOWNTIME)  # the outage under test: fires fall due while no daemon runs
    down_until = utcnow()
    (jc.tmp / "config.yaml").write_text(f"daemon:\n  misfire_grace: {GRACE}s\n")
    jc.env["JOBCTL_CONFIG"] = str(jc.tmp / "config.yaml")
    jc.start_daemon()  # this time the grace comes from the config
    wait_until(
        lambda: (
            (by := _by_schedule(jc)).keys() == {"m-skip", "m-once", "m-all"}
            and all(
                any(_at(j["nominal_at"]) > down_until + timedelta(seconds=1) for j in jobs)
                for jobs in by.values()
            )
        ),
        20,
        0.2,
        "fires after the restart",
    )
    jc.stop_daemons()
    for policy in ("skip", "once", "all"):
        name = f"m-{policy}"
        jobs, missed = _jobs(jc, name), _missed(jc, name)
        assert {m["reason"] for m in missed} <= {"no_daemon"}, missed
        nominal = sorted(_at(r["nominal_at"]) for r in jobs + missed)
        gaps = {(b - a).total_seconds() for a, b in itertools.pairwise(nominal)}
        assert gaps == {1.0}, f"{name}: every second is in the ledger exactly once: {gaps}"
        catch_up = _first_pass_after(jobs + missed, down_until)  # all the outage's fires
        assert len(catch_up) >= DOWNTIME - 1, catch_up
        late_runs = [r for r in catch_up if r in jobs and _late(r) > GRACE]
        skipped = [r for r in catch_up if r in missed]
        assert all(_late(m) > GRACE for m in skipped), skipped
        if policy == "skip":
            assert len(skipped) >= 2 and late_runs == [], (skipped, late_runs)
        elif policy == "once":
            assert len(late_runs) == 1 and len(skipped) >= 1, (skipped, late_runs)
            latest_skip = max(_at(m["nominal_at"]) for m in skipped)
            assert _at(late_runs[0]["nominal_at"]) > latest_skip, "once runs the latest missed fire"
        else:
            assert skipped == [] and len(late_runs) >= 2, (skipped, late_runs)
        assert {j["state"] for j in jobs} <= {"succeeded", "queued"}, jobs  # queued: at stop


def _spans(jc: Jobctl, jobs: list[dict]) -> list[tuple[datetime, datetime]]:
    spans = []
    for job in jobs:
        for attempt in jc.json("show", str(job["id"]))["attempt_log"]:
            if attempt["finished_at"]:
                spans.append((_at(attempt["started_at"]), _at(attempt["finished_at"])))
    return sorted(spans)


def test_overlap_policies_with_runs_longer_than_the_interval(jc: Jobctl) -> None:
    every = ("--cron", "@every 1s")
    jc.ok("schedule", "add", "o-forbid", *every, "--overlap", "forbid", "--", "sleep", "2.5")
    jc.ok("schedule", "add", "o-allow", *every, "--overlap", "allow", "--", "sleep", "2.5")
    jc.ok("schedule", "add", "o-replace", *every, "--overlap", "replace", "--", "sleep", "30")
    jc.start_daemon("--concurrency", "8")

    wait_until(
        lambda: _count(_jobs(jc, "o-allow"), "running") >= 2, 20, 0.1, "allow: two runs at once"
    )
    wait_until(
        lambda: (
            _count((by := _by_schedule(jc)).get("o-forbid", []), "succeeded") >= 2
            and _count(by.get("o-allow", []), "succeeded") >= 3
        ),
        30,
        0.2,
        "finished runs",
    )
    # A per-second fire handled a second late (before the daemon was up, or on a loaded
    # machine) is missed as no_daemon: the misfire grace never exceeds the interval.
    forbid_skips = _missed(jc, "o-forbid")
    reasons = {m["reason"] for m in forbid_skips}
    assert "overlap" in reasons and reasons <= {"overlap", "no_daemon"}, forbid_skips
    spans = _spans(jc, _jobs(jc, "o-forbid"))
    assert all(b[0] >= a[1] for a, b in itertools.pairwise(spans)), f"forbid overlapped: {spans}"
    assert {m["reason"] for m in _missed(jc, "o-allow")} <= {"no_daemon"}, "allow skips none"

    replace_jobs = wait_until(
        lambda: (jobs := _jobs(jc, "o-replace")) and _count(jobs, "cancelled") >= 3 and jobs,
        20,
        0.2,
        "replace: earlier runs cancelled",
    )
    assert {m["reason"] for m in _missed(jc, "o-replace")} <= {"no_daemon"}, "replace skips none"
    ordered = sorted(replace_jobs, key=lambda j: j["id"])
    # The last two may be mid-replacement (terminated, not yet reaped); all before: replaced.
    assert {j["state"] for j in ordered[:-2]} == {"cancelled"}, ordered
    assert ordered[-1]["state"] != "cancelled", "the newest fire is not cancelled"
    (attempt,) = jc.json("show", str(ordered[0]["id"]))["attempt_log"]
    assert attempt["signal"] == 15, f"the running one was terminated: {attempt}"
    assert attempt["duration"] < 10, "cancelled at the next fire, not at the end of its sleep"

    # The lint sees that o-allow's real runs (2.5 s) outlast its 1 s interval.
    shapes = {s["name"]: s for s in jc.json("schedule", "list")}
    assert "exceeds its interval 1s" in (shapes["o-allow"]["run_time_warning"] or ""), shapes
    jc.ok("schedule", "rm", "o-allow")
    again = jc.run("schedule", "add", "o-allow", *every, "--", "sleep", "2.5")
    assert again.rc == 0 and "p95 run time 2.5" in again.err, again


def test_misfire_skip_never_runs_a_per_second_fire_late_with_the_default_grace(
    jc: Jobctl,
) -> None:
    # Given a per-second schedule with --misfire skip and the daemon's default 60 s grace
    misfire = ("--misfire", "skip", "--overlap", "allow")
    jc.ok("schedule", "add", "tick", "--cron", "* * * * * *", *misfire, "--", "true")
    jc.start_daemon()
    wait_until(lambda: len(_jobs(jc, "tick")) >= 2, 20, 0.2, "fires while the daemon runs")
    # When the daemon is down for a few seconds and comes back
    jc.stop_daemons()
    time.sleep(DOWNTIME)  # the outage under test: fires fall due while no daemon runs
    down_until = utcnow()
    jc.start_daemon()
    wait_until(
        lambda: any(
            _at(j["nominal_at"]) > down_until + timedelta(seconds=1) for j in _jobs(jc, "tick")
        ),
        20,
        0.2,
        "fires after the restart",
    )
    jc.stop_daemons()
    # Then the outage's fires are in the ledger as missed, and none of them ran late: the
    # grace never exceeds the schedule's 1 s interval
    jobs, missed = _jobs(jc, "tick"), _missed(jc, "tick")
    catch_up = _first_pass_after(jobs + missed, down_until)
    skipped = [r for r in catch_up if r in missed]
    late_runs = [r for r in catch_up if r in jobs and _late(r) > 1.0]
    assert len(skipped) >= DOWNTIME - 1 and late_runs == [], (skipped, late_runs)
    assert {m["reason"] for m in missed} == {"no_daemon"}, missed
