"""Attempt results (processes, handlers, lost runners) → the store's Finish records."""

from __future__ import annotations

import random
from datetime import datetime

from jobctl.domain.failure import Decision, Ending, classify, decide, describe
from jobctl.domain.job import Job, State
from jobctl.runtime.executor import AttemptResult
from jobctl.runtime.handlers import HandlerResult
from jobctl.store.repos.dispatch import Finish

TAIL_BYTES = 4096


def _decide(
    job: Job, ending: Ending, now: datetime, rng: random.Random, non_retryable: frozenset[int]
) -> tuple[Decision, str | None]:
    decision = decide(ending, job.attempts_in_budget, job.retry, now, rng, non_retryable)
    return decision, describe(ending, classify(ending), job.timeout)


def from_process(
    job: Job,
    result: AttemptResult,
    runner: str,
    now: datetime,
    rng: random.Random,
    non_retryable: frozenset[int],
) -> Finish:
    ending = Ending(
        exit_code=result.exit_code,
        signal=result.signal,
        timed_out=result.timed_out,
        cancelled=result.cancelled,
        spawn_error=result.spawn_error,
    )
    decision, error = _decide(job, ending, now, rng, non_retryable)
    tail = result.output_tail[-TAIL_BYTES:].decode("utf-8", errors="replace")
    return Finish(
        job_id=job.id,
        attempt=job.attempts,
        runner=runner,
        decision=decision,
        exit_code=result.exit_code,
        signal=result.signal,
        error=error,
        duration=round(result.duration, 6),
        max_rss=result.max_rss,
        cpu_seconds=result.cpu_seconds,
        output_tail=tail,
    )


def from_handler(
    job: Job,
    result: HandlerResult,
    runner: str,
    now: datetime,
    rng: random.Random,
    cancelled: bool = False,
) -> Finish:
    ending = Ending(
        exit_code=0 if result.ok else 1,
        timed_out=result.timed_out,
        cancelled=cancelled,
        error=result.error,
    )
    decision, error = _decide(job, ending, now, rng, frozenset())
    return Finish(
        job_id=job.id,
        attempt=job.attempts,
        runner=runner,
        decision=decision,
        exit_code=None if result.timed_out else (0 if result.ok else 1),
        error=error,
        duration=round(result.duration, 6),
        output_tail=result.error,
    )


def from_lost(job: Job, now: datetime, rng: random.Random, lease_expired: bool = True) -> Finish:
    """A running job whose runner died: cancelled if that was asked, else lost. With
    `lease_expired` the finish applies only while the lease is still expired."""
    error: str | None
    if job.cancel_requested:
        decision = Decision(State.CANCELLED, None)
        error = "cancelled; its runner died before confirming"
    else:
        ending = Ending(lost=True, error=f"runner {job.lease_owner} stopped renewing its lease")
        decision, error = _decide(job, ending, now, rng, frozenset())
    return Finish(
        job_id=job.id,
        attempt=job.attempts,
        runner=job.lease_owner or "",
        decision=decision,
        error=error,
        expired_before=now if lease_expired else None,
    )
