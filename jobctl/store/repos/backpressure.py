"""Backpressure inside the enqueue transaction: a queue's depth against its `max_depth`.

The depth is counted once per queue per transaction (under the write lock on SQLite, a
transaction-scoped lock per queue on PostgreSQL, so racing enqueues cannot both slip under
the limit) and grows with every job the batch adds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from jobctl.domain.job import JobSpec
from jobctl.domain.queues import Backpressure, Shed, defer_delay, depth_to_count, rejection
from jobctl.errors import Unavailable
from jobctl.store.database import Conn


def queue_depth(conn: Conn, queue: str, cap: int) -> int:
    """Live jobs of `queue` that have not started (waiting, queued, retrying), up to `cap`."""
    return conn.execute(
        "SELECT count(*) FROM (SELECT 1 FROM jobs"
        " WHERE state IN ('waiting', 'queued', 'retrying') AND queue = ? LIMIT ?) AS live",
        (queue, cap),
    ).fetchone()[0]


class Shedder:
    """Applies each queue's guard to the specs of one enqueue transaction."""

    def __init__(self, conn: Conn, guards: Mapping[str, Backpressure]) -> None:
        self.conn = conn
        self.guards = guards
        self.depths: dict[str, int] = {}

    def admit(self, spec: JobSpec, now: datetime) -> JobSpec:
        """The spec to insert (run_at pushed back when deferred), or Unavailable (reject)."""
        guard = self.guards.get(spec.queue)
        if guard is None:
            return spec
        depth = self.depths.get(spec.queue)
        if depth is None:  # racing enqueues on other hosts wait here (SQLite: the write lock)
            self.conn.serialise(f"depth:{spec.queue}")
            depth = queue_depth(self.conn, spec.queue, depth_to_count(guard.max_depth))
        self.depths[spec.queue] = depth + 1
        if depth < guard.max_depth:
            return spec
        if guard.shed is Shed.REJECT:
            raise Unavailable(rejection(guard, depth))
        later = now + timedelta(seconds=defer_delay(depth, guard.max_depth))
        if spec.run_at is not None and spec.run_at >= later:
            return spec
        return replace(spec, run_at=later)
