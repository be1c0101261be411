"""Retry policies and backoff: pure functions of (policy, attempt, rng)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from jobctl.errors import InvalidInput

if TYPE_CHECKING:
    import random

# sysexits usage/config range: a retry would fail the same way.
DEFAULT_NON_RETRYABLE_EXIT_CODES = frozenset(range(64, 79))


class Backoff(StrEnum):
    EXPONENTIAL = "exponential"  # base * 2^(attempt-1), capped at max
    FIXED = "fixed"  # base
    LINEAR = "linear"  # base * attempt, capped at max


class Jitter(StrEnum):
    FULL = "full"  # uniform in [0, delay]
    NONE = "none"


@dataclass(frozen=True)
class RetryPolicy:
    """SPEC defaults: 5 attempts, exponential, base 10s, max 1h, full jitter."""

    max_attempts: int = 5
    backoff: Backoff = Backoff.EXPONENTIAL
    base: float = 10.0
    max: float = 3600.0
    jitter: Jitter = Jitter.FULL

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise InvalidInput(f"invalid max attempts {self.max_attempts}: must be at least 1")
        if self.base < 0 or self.max < 0:
            raise InvalidInput("backoff base and max must not be negative")


def parse_backoff(value: str) -> Backoff:
    try:
        return Backoff(value.strip().lower())
    except ValueError:
        raise InvalidInput(f"invalid backoff {value!r}: use exponential, fixed or linear") from None


def parse_jitter(value: str | None) -> Jitter:
    if value is None or str(value).lower() in ("full", "true", "yes"):
        return Jitter.FULL
    if str(value).lower() in ("none", "false", "no", "off"):
        return Jitter.NONE
    raise InvalidInput(f"invalid jitter {value!r}: use full or none")


def backoff_cap(policy: RetryPolicy, attempt: int) -> float:
    """The un-jittered delay in seconds after failed attempt number `attempt` (1-based)."""
    n = max(1, attempt)
    if policy.backoff is Backoff.FIXED:
        return policy.base
    if policy.backoff is Backoff.LINEAR:
        return min(policy.max, policy.base * n)
    return min(policy.max, policy.base * 2.0 ** min(n - 1, 62))


def retry_delay(policy: RetryPolicy, attempt: int, rng: random.Random) -> float:
    """Seconds to wait before the next attempt; 0 ≤ delay ≤ backoff_cap(policy, attempt)."""
    cap = backoff_cap(policy, attempt)
    if policy.jitter is Jitter.FULL:
        return rng.uniform(0, cap)
    return cap
