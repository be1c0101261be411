"""Factories for specs and claims (procrastinate style)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jobctl.domain.failure import Decision
from jobctl.domain.job import FailureClass, JobSpec, State
from jobctl.domain.retry import RetryPolicy
from jobctl.store import Store
from jobctl.store.repos.dispatch import Claim, Finish


def job_spec(command: list[str] | None = None, **fields: Any) -> JobSpec:
    return JobSpec(command=command or ["true"], **fields)


def claim(slots: int = 1, runner: str = "node-a:1:x", lease: float = 30.0, **fields: Any) -> Claim:
    return Claim(runner=runner, node=runner.split(":")[0], slots=slots, lease=lease, **fields)


def dead_job(store: Store, now: datetime, **fields: Any) -> int:
    """A job that ran once and died at `now` (by default its whole budget of one attempt)."""
    fields.setdefault("retry", RetryPolicy(max_attempts=1))
    job_id = store.jobs.enqueue([job_spec(priority=2**30, **fields)], now)[0].id
    run_to_death(store, now, job_id)
    return job_id


def run_to_death(store: Store, now: datetime, job_id: int) -> None:
    """Claim the ready job `job_id` (it must be the first in line) and finish it dead."""
    (claimed,) = store.dispatch.claim(claim(), now)
    assert claimed.id == job_id
    decision = Decision(State.DEAD, FailureClass.EXIT, to_dlq=True)
    store.dispatch.finish([Finish(job_id, claimed.attempts, "node-a:1:x", decision)], now)
