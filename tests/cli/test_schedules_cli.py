"""Schedules at the CLI (real subprocesses): the lint in `config check` with and without a
DB, in `schedule add` of a name with run history, its marker in `schedule list`/`show`; the
daemon's --misfire-grace."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobctl.domain.failure import Decision
from jobctl.domain.job import State
from jobctl.store import open_store
from jobctl.store.repos.dispatch import Finish
from tests.support.cli import Jobctl
from tests.support.clock import ManualClock
from tests.support.factories import claim, job_spec

CONFIG = """\
schedules:
  - name: report
    cron: "* * * * *"
    tz: UTC
    command: [true]
  - name: at-half-past-two
    cron: "30 2 * * *"
    tz: Europe/Berlin
    command: [true]
"""


@pytest.fixture
def jc(tmp_path: Path) -> Jobctl:
    j = Jobctl(tmp_path)
    (tmp_path / "config.yaml").write_text(CONFIG)
    j.env["JOBCTL_CONFIG"] = str(tmp_path / "config.yaml")
    return j


def _history(db: Path, schedule: str, durations: list[float]) -> None:
    """Finished runs of `schedule`, written through the store as a daemon would."""
    store, clock = open_store(str(db)), ManualClock()
    try:
        for duration in durations:
            store.jobs.enqueue([job_spec(schedule=schedule)], clock.now())
            (job,) = store.dispatch.claim(claim(), clock.now())
            done = Decision(State.SUCCEEDED, None)
            finish = Finish(job.id, job.attempts, "node-a:1:x", done, duration=duration)
            store.dispatch.finish([finish], clock.now())
    finally:
        store.close()


def test_config_check_lints_schedules_without_creating_a_db(jc: Jobctl) -> None:
    res = jc.run("config", "check")
    assert res.rc == 0, res
    assert "falls in the DST gap of Europe/Berlin" in res.err
    assert "schedule 'at-half-past-two'" in res.err
    assert "p95" not in res.err
    assert not jc.db.exists(), "config check must not create a DB"


def test_config_check_warns_on_a_p95_run_time_over_the_interval(jc: Jobctl) -> None:
    _history(jc.db, "report", [90.0, 95.0, 100.0])
    res = jc.run("config", "check")
    assert res.rc == 0, "lint warns, it does not fail"
    assert (
        "jobctl: warning: schedule 'report': '* * * * *': p95 run time 100s of the last 3 runs"
        " exceeds its interval 60s" in res.err
    ), res.err


def test_schedule_add_list_and_show_mark_a_name_whose_runs_outlast_the_interval(
    jc: Jobctl,
) -> None:
    _history(jc.db, "slow", [70.0] * 3)
    res = jc.run("schedule", "add", "slow", "--cron", "* * * * *", "--tz", "UTC", "--", "true")
    assert res.rc == 0 and "p95 run time 70s of the last 3 runs" in res.err, res
    jc.ok("schedule", "add", "fast", "--cron", "* * * * *", "--tz", "UTC", "--", "true")
    shapes = {s["name"]: s for s in jc.json("schedule", "list")}
    assert "exceeds its interval 60s" in shapes["slow"]["run_time_warning"]
    assert shapes["fast"]["run_time_warning"] is None
    rows = {line.split()[0]: line for line in jc.ok("schedule", "list").splitlines()[1:]}
    assert rows["slow"].endswith("p95 run time > interval") and "p95" not in rows["fast"]
    assert "p95 run time 70s" in jc.ok("schedule", "show", "slow")
    relaxed = jc.run("schedule", "add", "daily", "--cron", "@daily", "--tz", "UTC", "--", "true")
    assert "p95" not in relaxed.err


@pytest.mark.parametrize("value", ["0", "-1s", "soon"])
def test_daemon_refuses_a_bad_misfire_grace(jc: Jobctl, value: str) -> None:
    res = jc.run("daemon", f"--misfire-grace={value}")
    assert res.rc == 2 and "--misfire-grace" in res.err and "Traceback" not in res.err, res


def test_config_sets_the_misfire_grace_and_refuses_zero(jc: Jobctl, tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("daemon:\n  misfire_grace: 5m\n")
    assert jc.json("config", "show")["daemon"]["misfire_grace"] == 300.0
    (tmp_path / "config.yaml").write_text("daemon:\n  misfire_grace: 0s\n")
    res = jc.run("config", "check")
    assert res.rc == 2 and "config.yaml:2: invalid misfire_grace 0" in res.err, res
