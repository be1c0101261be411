"""Time enters jobctl here and nowhere else.

Domain and store code take `now` as an argument; runtime components receive a `Clock`.
Timestamps are timezone-aware UTC datetimes.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for intervals and deadlines)."""

    def sleep(self, seconds: float) -> None:
        """Pause the caller (a manual clock just advances)."""


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


def utcnow() -> datetime:
    """Now, for code at the edge (CLI, client) that has no injected clock."""
    return datetime.now(UTC)
