"""Queue limits as values: backpressure (`max_depth` + `shed`) and rate limits (`rate_limit`).

Depth of a queue = its live jobs that have not started: `waiting`, `queued` (including
scheduled ones, so deferred jobs count) and `retrying`. Running jobs do not count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from jobctl.errors import InvalidInput

DEFER_BASE = 1.0  # seconds: the delay of a job deferred at exactly max_depth
DEFER_MAX = 300.0  # seconds: deferral never pushes a job further than this
DEFER_STEPS = 10  # the delay doubles with every tenth of max_depth over the limit

QUEUE_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,64}")  # SPEC: every queue name, everywhere
SHOWN_CHARS = 80  # of a refused name in the message
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(s|m|h)\s*(per\s+tenant)?\s*$", re.I)


class Shed(StrEnum):
    DEFER = "defer"  # accept, but run later (with backoff)
    REJECT = "reject"  # refuse the enqueue: Unavailable (exit 75)


@dataclass(frozen=True)
class Backpressure:
    """A queue's depth guard. Queues without `max_depth` have none and are never shed."""

    queue: str
    max_depth: int
    shed: Shed = Shed.DEFER


@dataclass(frozen=True)
class RateLimit:
    """At most `limit` claims in any window of `per` seconds, per tenant or per queue."""

    limit: int
    per: float
    per_tenant: bool = False

    def __str__(self) -> str:
        unit = next(u for u, s in _UNITS.items() if s == self.per)
        return f"{self.limit}/{unit}" + (" per tenant" if self.per_tenant else "")


def is_queue_name(name: object) -> bool:
    """Whether `name` may name a queue: 1-64 of A-Z a-z 0-9 _ . : - (no label of a metric
    or line of a table can be minted from anything else)."""
    return isinstance(name, str) and QUEUE_NAME.fullmatch(name) is not None


def check_queue_name(name: object) -> str:
    """`name` when it may name a queue; InvalidInput naming it otherwise."""
    if is_queue_name(name):
        return name  # type: ignore[return-value]
    shown = repr(name) if len(repr(name)) <= SHOWN_CHARS else repr(name)[:SHOWN_CHARS] + "..."
    raise InvalidInput(f"invalid queue name {shown}: use 1-64 characters of A-Z a-z 0-9 _ . : -")


def parse_rate_limit(text: object) -> RateLimit:
    """`20/s`, `100/m per tenant`, `5/h` → RateLimit; anything else is InvalidInput."""
    match = _RATE.match(text) if isinstance(text, str) else None
    if match is None:
        raise InvalidInput(
            f"invalid rate_limit {text!r}: use N/s, N/m or N/h, optionally 'per tenant'"
        )
    limit = int(match.group(1))
    if limit < 1:
        raise InvalidInput(f"invalid rate_limit {text!r}: N must be at least 1")
    return RateLimit(limit, _UNITS[match.group(2).lower()], bool(match.group(3)))


def defer_delay(depth: int, max_depth: int) -> float:
    """Seconds to push a job enqueued when the queue holds `depth` (≥ max_depth) jobs:
    1 s at the limit, doubling with every tenth of max_depth over it, capped at 5 min."""
    over = max(0, depth - max_depth)
    step = max(1, max_depth // DEFER_STEPS)
    doublings = min(over // step, 32)
    return min(DEFER_BASE * 2.0**doublings, DEFER_MAX)


def depth_to_count(max_depth: int) -> int:
    """How far a depth count needs to go: beyond it the deferral is capped anyway."""
    return 2 * max_depth + DEFER_STEPS


def rejection(guard: Backpressure, depth: int) -> str:
    """The one-line message of a rejected enqueue, with the depth and the limit."""
    shown = f"{depth}" if depth < depth_to_count(guard.max_depth) else f"{depth}+"
    return (
        f"queue {guard.queue!r} is full: depth {shown} at or over max_depth {guard.max_depth}"
        " (shed: reject); nothing enqueued, try again later"
    )
