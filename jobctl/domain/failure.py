"""Classify how an attempt ended, and decide what happens to the job next."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from jobctl.domain.job import FailureClass, State
from jobctl.domain.retry import DEFAULT_NON_RETRYABLE_EXIT_CODES, RetryPolicy, retry_delay


@dataclass(frozen=True)
class Ending:
    """How one attempt ended, as the executor saw it."""

    exit_code: int | None = None
    signal: int | None = None
    timed_out: bool = False
    cancelled: bool = False
    spawn_error: str | None = None
    lost: bool = False
    error: str | None = None  # handler exception text


def classify(ending: Ending) -> FailureClass | None:
    """The failure class of an ending, or None for success (exit 0)."""
    if ending.spawn_error:
        return FailureClass.SPAWN
    if ending.lost:
        return FailureClass.LOST
    if ending.timed_out:
        return FailureClass.TIMEOUT
    if ending.signal is not None:
        return FailureClass.SIGNAL
    if ending.exit_code == 0 and not ending.error:
        return None
    return FailureClass.EXIT


def describe(
    ending: Ending, failure: FailureClass | None, timeout: float | None = None
) -> str | None:
    """One line for `show` and the DLQ: what went wrong."""
    if failure is None:
        return None
    if failure is FailureClass.SPAWN:
        return ending.spawn_error
    if failure is FailureClass.LOST:
        return ending.error or "the runner died while the job ran (lease expired)"
    if failure is FailureClass.TIMEOUT:
        limit = f" of {timeout:g}s" if timeout else ""
        return f"timed out after the limit{limit}; process tree killed"
    if failure is FailureClass.SIGNAL:
        return f"killed by signal {ending.signal}"
    return ending.error or f"exited with code {ending.exit_code}"


@dataclass(frozen=True)
class Decision:
    """What the job becomes after an attempt."""

    state: State
    failure_class: FailureClass | None
    retry_after: datetime | None = None
    to_dlq: bool = False


def decide(
    ending: Ending,
    attempt: int,
    policy: RetryPolicy,
    now: datetime,
    rng: random.Random,
    non_retryable_exit_codes: frozenset[int] = DEFAULT_NON_RETRYABLE_EXIT_CODES,
) -> Decision:
    """Succeeded, cancelled, retrying at T, or dead (with a DLQ entry)."""
    if ending.cancelled:
        return Decision(State.CANCELLED, None)
    failure = classify(ending)
    if failure is None:
        return Decision(State.SUCCEEDED, None)
    retryable = failure is not FailureClass.SPAWN and not (
        failure is FailureClass.EXIT and ending.exit_code in non_retryable_exit_codes
    )
    if retryable and attempt < policy.max_attempts:
        delay = retry_delay(policy, attempt, rng)
        return Decision(State.RETRYING, failure, now + timedelta(seconds=delay))
    return Decision(State.DEAD, failure, to_dlq=True)
