from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from jobctl.domain.failure import Ending, classify, decide
from jobctl.domain.job import FailureClass, State
from jobctl.domain.retry import Backoff, Jitter, RetryPolicy, backoff_cap, retry_delay
from jobctl.errors import InvalidInput

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "backoff,caps",
    [
        (Backoff.EXPONENTIAL, [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600]),
        (Backoff.LINEAR, [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110]),
        (Backoff.FIXED, [10] * 11),
    ],
)
def test_backoff_caps_per_policy(backoff: Backoff, caps: list[float]) -> None:
    policy = RetryPolicy(backoff=backoff, base=10, max=3600)
    assert [backoff_cap(policy, n) for n in range(1, 12)] == caps


def test_full_jitter_stays_within_zero_and_the_cap() -> None:
    rng = random.Random(42)
    policy = RetryPolicy(base=10, max=3600)
    for attempt in range(1, 30):
        delay = retry_delay(policy, attempt, rng)
        assert 0 <= delay <= backoff_cap(policy, attempt)


def test_jitter_is_reproducible_with_a_seed() -> None:
    policy = RetryPolicy(base=10, max=3600)
    first = [retry_delay(policy, n, random.Random(7)) for n in range(1, 6)]
    again = [retry_delay(policy, n, random.Random(7)) for n in range(1, 6)]
    assert first == again
    assert first != [backoff_cap(policy, n) for n in range(1, 6)]


def test_no_jitter_gives_the_cap() -> None:
    policy = RetryPolicy(base=1, max=60, jitter=Jitter.NONE)
    assert retry_delay(policy, 3, random.Random(1)) == 4


def test_huge_attempt_numbers_do_not_overflow() -> None:
    assert backoff_cap(RetryPolicy(base=10, max=3600), 10_000) == 3600


def test_max_attempts_must_be_positive() -> None:
    with pytest.raises(InvalidInput):
        RetryPolicy(max_attempts=0)


@pytest.mark.parametrize(
    "ending,failure",
    [
        (Ending(exit_code=0), None),
        (Ending(exit_code=3), FailureClass.EXIT),
        (Ending(signal=9), FailureClass.SIGNAL),
        (Ending(signal=15, timed_out=True), FailureClass.TIMEOUT),
        (Ending(spawn_error="command not found: x"), FailureClass.SPAWN),
        (Ending(lost=True), FailureClass.LOST),
        (Ending(exit_code=0, error="handler raised"), FailureClass.EXIT),
    ],
)
def test_classify(ending: Ending, failure: FailureClass | None) -> None:
    assert classify(ending) == failure


def test_success_and_cancel_decisions() -> None:
    rng = random.Random(0)
    assert decide(Ending(exit_code=0), 1, RetryPolicy(), NOW, rng).state is State.SUCCEEDED
    assert decide(Ending(cancelled=True, signal=15), 1, RetryPolicy(), NOW, rng).state is (
        State.CANCELLED
    )


def test_failure_retries_with_backoff_until_attempts_run_out() -> None:
    rng = random.Random(3)
    policy = RetryPolicy(max_attempts=3, base=10, max=100, jitter=Jitter.NONE)
    first = decide(Ending(exit_code=1), 1, policy, NOW, rng)
    assert (first.state, first.retry_after) == (State.RETRYING, NOW + timedelta(seconds=10))
    second = decide(Ending(exit_code=1), 2, policy, NOW, rng)
    assert second.retry_after == NOW + timedelta(seconds=20)
    last = decide(Ending(exit_code=1), 3, policy, NOW, rng)
    assert (last.state, last.to_dlq, last.failure_class) == (State.DEAD, True, FailureClass.EXIT)


@pytest.mark.parametrize(
    "ending", [Ending(spawn_error="not found"), Ending(exit_code=64), Ending(exit_code=78)]
)
def test_non_retryable_failures_go_straight_to_the_dlq(ending: Ending) -> None:
    decision = decide(ending, 1, RetryPolicy(max_attempts=5), NOW, random.Random(0))
    assert decision.state is State.DEAD and decision.to_dlq


def test_configured_non_retryable_codes_replace_the_default() -> None:
    decision = decide(Ending(exit_code=64), 1, RetryPolicy(), NOW, random.Random(0), frozenset({3}))
    assert decision.state is State.RETRYING
    decision = decide(Ending(exit_code=3), 1, RetryPolicy(), NOW, random.Random(0), frozenset({3}))
    assert decision.state is State.DEAD
