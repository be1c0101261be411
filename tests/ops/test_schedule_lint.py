"""The schedule lint (SPEC "Lint") over a real store: p95 run time against the interval from
the fire engine, the crowd at one instant, the config's schedules with and without a DB."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from jobctl.config.schedules import build_schedule
from jobctl.domain.cron import parse_cron
from jobctl.domain.failure import Decision
from jobctl.domain.fires import expected_interval, run_time_lint
from jobctl.domain.job import State
from jobctl.ops.schedules import (
    RUN_TIME_SAMPLE,
    lint_config,
    lint_schedule,
    run_time_warning,
    schedule_shape,
)
from jobctl.store import Store
from jobctl.store.repos.dispatch import Finish
from tests.support.clock import ManualClock
from tests.support.factories import claim, job_spec

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _ran(store: Store, clock: ManualClock, schedule: str, durations: list[float]) -> None:
    """Jobs of `schedule` that were claimed and finished after running `durations` seconds."""
    for duration in durations:
        store.jobs.enqueue([job_spec(schedule=schedule)], clock.now())
        (job,) = store.dispatch.claim(claim(), clock.now())
        done = Decision(State.SUCCEEDED, None)
        finish = Finish(job.id, job.attempts, "node-a:1:x", done, exit_code=0, duration=duration)
        assert store.dispatch.finish([finish], clock.now())


def _schedule(name: str = "s", cron: str = "* * * * *", **fields: object):  # type: ignore[no-untyped-def]
    return build_schedule(name, {"cron": cron, "tz": "UTC", "command": ["true"], **fields})


@pytest.mark.parametrize(
    "cron,zone,now,kw,expected",
    [
        ("* * * * *", "UTC", NOW, {}, 60.0),
        ("*/15 * * * *", "UTC", NOW, {}, 900.0),
        ("0 9 * * 1-5", "UTC", NOW, {}, 86400.0),  # the smallest gap, not the weekend's
        ("@every 90s", "UTC", NOW, {}, 90.0),
        ("* * * * * *", "UTC", NOW, {}, 1.0),
        # fall-back day in Berlin: `--dst-repeat both` fires 02:30 twice, an hour apart
        ("30 2 * * *", "Europe/Berlin", datetime(2026, 10, 24, tzinfo=UTC), {}, 86400.0),
        (
            "30 2 * * *",
            "Europe/Berlin",
            datetime(2026, 10, 24, tzinfo=UTC),
            {"dst_repeat": "both"},
            3600.0,
        ),
        ("@reboot", "UTC", NOW, {}, None),
    ],
)
def test_expected_interval_is_the_smallest_gap_of_the_next_fires(
    cron: str, zone: str, now: datetime, kw: dict, expected: float | None
) -> None:
    assert expected_interval(parse_cron(cron), ZoneInfo(zone), now, **kw) == expected


def test_run_time_lint_compares_the_p95_not_the_worst_run() -> None:
    one_outlier = [30.0] * 19 + [90.0]
    assert run_time_lint("* * * * *", one_outlier, 60.0) is None
    two_outliers = [30.0] * 18 + [90.0, 90.0]
    warning = run_time_lint("* * * * *", two_outliers, 60.0)
    assert warning == (
        "'* * * * *': p95 run time 90s of the last 20 runs exceeds its interval 60s:"
        " runs overlap (see --overlap)"
    )
    assert run_time_lint("* * * * *", [500.0, 500.0], 60.0) is None, "too few runs to say"
    assert run_time_lint("@reboot", [500.0] * 5, None) is None


def test_run_time_warning_from_the_schedules_finished_attempts(store: Store, clock) -> None:
    schedule = _schedule()
    store.schedules.add(schedule, clock.now())
    assert run_time_warning(store, schedule, clock.now()) is None, "no history: no warning"
    _ran(store, clock, "s", [75.0, 80.0, 90.0])
    _ran(store, clock, "other", [1.0] * 5)
    warning = run_time_warning(store, schedule, clock.now())
    assert warning is not None and "p95 run time 90s of the last 3 runs" in warning
    assert schedule_shape(store, store.schedules.get("s"), clock.now())["run_time_warning"] == (
        warning
    )
    assert schedule_shape(store, _schedule("other"), clock.now())["run_time_warning"] is None


def test_only_the_latest_runs_count(store: Store, clock) -> None:
    _ran(store, clock, "s", [300.0] * 10)  # slow once, fast since
    _ran(store, clock, "s", [5.0] * RUN_TIME_SAMPLE)
    assert run_time_warning(store, _schedule(), clock.now()) is None
    assert len(store.schedules.run_durations("s", RUN_TIME_SAMPLE)) == RUN_TIME_SAMPLE


def test_a_re_added_schedule_is_linted_against_the_history_of_its_name(store: Store, clock) -> None:
    _ran(store, clock, "nightly", [120.0] * 4)  # a schedule that was removed, kept its jobs
    hourly = _schedule("nightly", "* * * * *")
    assert any("p95 run time 120s" in w for w in lint_schedule(store, hourly, clock.now()))
    daily = _schedule("nightly", "0 3 * * *")
    assert lint_schedule(store, daily, clock.now()) == [], "two minutes fit into a day"


def test_lint_warns_on_a_crowd_firing_at_one_instant(store: Store, clock) -> None:
    for index in range(4):
        store.schedules.add(_schedule(f"s{index}", "0 * * * *"), clock.now())
    assert lint_schedule(store, _schedule("new", "0 * * * *"), clock.now()) == [
        "5 schedules fire at 2026-06-01T13:00:00Z without jitter: consider --jitter to spread"
        " the load"
    ]
    assert lint_schedule(store, _schedule("new", "0 * * * *", jitter="30s"), clock.now()) == []


def test_lint_config_without_a_db_lints_what_needs_no_history(store: Store, clock) -> None:
    entries = [
        {"name": "gap", "cron": "30 2 * * *", "tz": "Europe/Berlin", "command": ["true"]},
        {"name": "never", "cron": "0 0 30 2 *", "tz": "UTC", "command": ["true"]},
        {"name": "busy", "cron": "* * * * *", "tz": "UTC", "command": ["true"]},
        {"name": "broken", "cron": "61 * * * *", "command": ["true"]},  # an error, not linted
    ]
    warnings = lint_config(None, entries, NOW)
    assert [w.split(":")[0] for w in warnings] == [
        "schedule 'gap'",
        "schedule 'gap'",
        "schedule 'never'",
    ]
    _ran(store, clock, "busy", [61.0] * 3)
    with_db = lint_config(store, entries, NOW)
    assert with_db[:3] == warnings
    assert with_db[3].startswith("schedule 'busy': '* * * * *': p95 run time 61s")


def test_lint_config_counts_a_crowd_among_the_config_and_the_db(store: Store, clock) -> None:
    hourly = [
        {"name": f"h{i}", "cron": "0 * * * *", "tz": "UTC", "command": ["true"]} for i in range(3)
    ]
    assert lint_config(None, hourly, NOW) == [], "three at one instant are no crowd"
    five = [*hourly, *({**e, "name": f"x{i}"} for i, e in enumerate(hourly[:2]))]
    crowd = lint_config(None, five, NOW)
    assert len(crowd) == 5 and all("5 schedules fire at 2026-06-01T13:00:00Z" in w for w in crowd)
    for index in range(2):  # two more in the DB, and a stale DB copy of a config schedule
        store.schedules.add(_schedule(f"db{index}", "0 * * * *"), clock.now())
    store.schedules.add(_schedule("h0", "30 * * * *"), clock.now())
    with_db = lint_config(store, hourly, NOW)
    assert len(with_db) == 3 and all("5 schedules" in w for w in with_db), "h0: the config's"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)
