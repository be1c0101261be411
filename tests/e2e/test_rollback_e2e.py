"""The way back to cron against a real daemon: a demoted schedule's fires are recorded
(shadow) and nothing runs any more."""

from __future__ import annotations

import pytest

from tests.support.cli import Jobctl
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow


def _jobs_of(jc: Jobctl, name: str) -> list[int]:
    return [j["id"] for j in jc.json("list", "--limit", "100000") if j.get("schedule") == name]


def test_a_demoted_schedule_records_its_fires_and_runs_nothing(jc: Jobctl) -> None:
    # Given an active schedule firing every second under a daemon, that has run
    jc.ok("schedule", "add", "tick", "--cron", "* * * * * *", "--no-shadow", "--", "true")
    jc.start_daemon()
    wait_until(lambda: _jobs_of(jc, "tick"), 30, 0.2, "a run of tick")
    # When it is demoted
    jc.ok("schedule", "demote", "tick")
    ran = _jobs_of(jc, "tick")
    # Then its next fires are recorded as shadow, and no job is made for them
    wait_until(
        lambda: (
            len([f for f in jc.json("schedule", "missed", "tick") if f["reason"] == "shadow"]) >= 2
        ),
        30,
        0.2,
        "two shadow fires of tick",
    )
    assert _jobs_of(jc, "tick") == ran
    assert jc.json("schedule", "show", "tick")["shadow"] is True
