"""Request ids: one per CLI invocation, stored on the jobs it enqueues or retries, and carried
by the daemon's log lines about those jobs; a schedule fire's id names the fire."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from jobctl.config.schedules import build_schedule, fire_options
from tests.support.cli import Jobctl
from tests.support.waiting import wait_until


def _events(jc: Jobctl, job_id: int) -> list[dict[str, str]]:
    found = []
    for line in jc.daemon_log().splitlines():
        fields = dict(re.findall(r'(\w+)=("[^"]*"|\S+)', line))
        if fields.get("job_id") == str(job_id):
            found.append(fields)
    return found


def test_a_fire_gets_a_request_id_naming_schedule_and_nominal_time() -> None:
    s = build_schedule("nightly", {"cron": "0 3 * * *", "command": ["true"]})
    nominal = datetime(2030, 5, 1, 3, 0, tzinfo=UTC)
    assert fire_options(s, nominal, nominal).request_id == "fire:nightly:2030-05-01T03:00:00Z"
    assert fire_options(s).request_id is None  # `schedule run` passes the CLI's own
    assert fire_options(s, request_id="abc").request_id == "abc"


@pytest.mark.slow
def test_daemon_log_lines_carry_the_request_id_of_the_enqueue_and_the_retry(jc: Jobctl) -> None:
    jc.start_daemon()
    job = jc.enqueue("--max-attempts", "1", "--", "false")
    jc.wait_state(job, "dead")
    enqueue_id = jc.show(job)["request_id"]
    (audit,) = jc.json("audit", "--action", "job.enqueue")
    assert audit["request_id"] == enqueue_id and len(enqueue_id) == 16
    wait_until(lambda: len(_events(jc, job)) >= 2, 10, 0.05, "the job's log lines")
    first = _events(jc, job)
    assert [e["event"] for e in first] == ["job.started", "job.dead"]
    assert {e["request_id"] for e in first} == {enqueue_id}

    jc.ok("retry", str(job))
    jc.wait_state(job, "dead")
    (retried,) = jc.json("audit", "--action", "job.retry")
    assert jc.show(job)["request_id"] == retried["request_id"] != enqueue_id
    wait_until(lambda: len(_events(jc, job)) >= 4, 10, 0.05, "the retry's log lines")
    assert {e["request_id"] for e in _events(jc, job)[2:]} == {retried["request_id"]}


@pytest.mark.slow
def test_a_fired_job_carries_its_fire_request_id(jc: Jobctl) -> None:
    jc.ok("schedule", "add", "tick", "--cron", "* * * * * *", "--", "true")
    jc.start_daemon()
    fired = wait_until(
        lambda: [j for j in jc.json("list") if j["schedule"] == "tick"], 15, 0.1, "a fire"
    )
    job = fired[-1]
    assert job["request_id"] == f"fire:tick:{job['nominal_at']}"
    events = wait_until(
        lambda: (e := _events(jc, job["id"])) and any(x["event"] == "job.started" for x in e) and e,
        10,
        0.05,
        "the fired job's start",
    )
    assert [e["event"] for e in events][:2] == ["schedule.fire", "job.started"]
    assert {e["request_id"] for e in events} == {job["request_id"]}
