"""`jobctl retry` in-process: a job whose key a live job holds is skipped and reported, the
rest retried; attempts are shown against the fresh budget a retry gives."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jobctl.store import Store, open_store
from tests.support.cli import run_main
from tests.support.clock import ManualClock
from tests.support.factories import dead_job, job_spec, run_to_death


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.setenv("JOBCTL_DB", str(tmp_path / "jobctl.db"))
    store = open_store(str(tmp_path / "jobctl.db"))
    yield store
    store.close()


def test_retry_skips_and_reports_a_job_whose_key_is_held_and_retries_the_rest(
    db: Store, clock: ManualClock
) -> None:
    # Given a dead job whose key a live job holds, and another dead job
    held = dead_job(db, clock.now(), key="nightly")
    holder = db.jobs.enqueue([job_spec(key="nightly")], clock.now())[0].id
    free = dead_job(db, clock.now())
    # When both are retried
    res = run_main("retry", str(held), str(free))
    # Then the free one is retried (its id on stdout), the held one reported on stderr, exit 0
    assert (res.rc, res.out) == (0, f"{free}\n"), res
    assert f"jobctl: job {held} skipped: key 'nightly' is held by live job {holder}" in res.err
    assert "retrying 1 job(s) (1 skipped)" in res.err
    assert db.jobs.get(free).state.value == "queued"
    assert db.jobs.get(held).state.value == "dead"
    (entry,) = db.audit.list(None, ["job.retry"], 10)
    assert (entry.outcome, entry.args["skipped"]) == ("ok", [held])


def test_attempts_after_a_retry_count_against_the_fresh_budget(
    db: Store, clock: ManualClock
) -> None:
    # Given a job with a budget of one attempt that died, was retried, and died again
    job_id = dead_job(db, clock.now())
    db.jobs.retry([job_id], clock.now())
    run_to_death(db, clock.now(), job_id)
    # Then status, list and show read 1/1 (not 2/1); show also says 2 in all
    assert "attempts=1/1 " in run_main("status", str(job_id)).out
    assert " 1/1 " in run_main("list").out
    assert "1/1 since the last retry (2 in all)" in run_main("show", str(job_id)).out
