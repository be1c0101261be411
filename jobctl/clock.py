"""Time enters jobctl here and nowhere else.

Domain and store code take `now` as an argument; runtime components receive a `Clock`.
Timestamps are timezone-aware UTC datetimes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
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


class ServerClock(SystemClock):
    """The clock of a database shared by hosts, read without a round trip per call: this
    host's clock plus the offset measured against the server (half the round trip taken
    off), measured again every `resync` seconds. Leases, heartbeats and fire times of
    daemons on several hosts then agree however their own clocks drift. `offset` is how far
    the server is ahead of this host (`health` reports it)."""

    def __init__(self, server_now: Callable[[], datetime], resync: float = 30.0) -> None:
        self._server_now = server_now
        self.resync = resync
        self.offset = 0.0
        self._measured_at: float | None = None
        self._lock = threading.Lock()

    def measure(self) -> float:
        """Measure the offset now; returns it."""
        before = time.monotonic()
        local = datetime.now(UTC)
        server = self._server_now()
        rtt = time.monotonic() - before
        self.offset = (server - local).total_seconds() - rtt / 2
        self._measured_at = time.monotonic()
        return self.offset

    def now(self) -> datetime:
        with self._lock:
            if self._measured_at is None or time.monotonic() - self._measured_at >= self.resync:
                try:
                    self.measure()
                except Exception:
                    if self._measured_at is None:
                        raise
                    self._measured_at = time.monotonic()  # keep the last offset; retry later
            return datetime.now(UTC) + timedelta(seconds=self.offset)


def utcnow() -> datetime:
    """Now, for code at the edge (CLI, client) that has no injected clock."""
    return datetime.now(UTC)
