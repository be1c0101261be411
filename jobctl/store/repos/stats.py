"""Read-only figures for status, explain and health: counts per queue, lag, waits; and the
status report built from them (off the enqueue path: this module loads on first use)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from jobctl.store.database import Database

if TYPE_CHECKING:
    from jobctl.store.repos.daemons import DaemonInfo
    from jobctl.store.repos.nodes import NodeInfo

DAY = 86400.0
WAIT_SAMPLE = 5000  # p95 wait over at most the latest attempts of the last hour


@dataclass
class QueueFigures:
    queue: str
    ready: int = 0
    scheduled: int = 0
    running: int = 0
    retrying: int = 0
    waiting: int = 0
    failed_24h: int = 0
    dead: int = 0
    oldest_ready_at: float | None = None  # epoch seconds
    waits: list[float] = field(default_factory=list)  # claim waits in the last hour


@dataclass(frozen=True)
class QueueStatus:
    queue: str
    ready: int
    scheduled: int
    running: int
    retrying: int
    waiting: int
    failed_24h: int
    dead: int
    lag_seconds: float
    p95_wait_seconds: float | None
    paused: bool
    concurrency: int | None


@dataclass(frozen=True)
class Status:
    queues: list[QueueStatus]
    daemons: list[DaemonInfo]
    enabled: bool = True  # config `enabled: false`: daemons claim no job, fire no schedule
    nodes: list[NodeInfo] = field(default_factory=list)  # every node, its liveness, drain


class StatsRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    def queue_figures(self, now: datetime) -> dict[str, QueueFigures]:
        """Per-queue counts using only the partial and (state, queue) indexes, so the cost
        does not grow with finished history."""
        ts = now.timestamp()
        out: dict[str, QueueFigures] = {}

        def fig(queue: str) -> QueueFigures:
            return out.setdefault(queue, QueueFigures(queue))

        with self.db.read() as conn:
            for queue, state, due, count, oldest in conn.execute(
                "SELECT queue, state, run_at <= ?, count(*), min(run_at) FROM jobs"
                " WHERE state IN ('queued', 'retrying') GROUP BY 1, 2, 3",
                (ts,),
            ):
                f = fig(queue)
                if due:
                    f.ready += count
                    f.oldest_ready_at = min(f.oldest_ready_at or oldest, oldest)
                elif state == "queued":
                    f.scheduled += count
                else:
                    f.retrying += count
            for state, attr in (("running", "running"), ("waiting", "waiting"), ("dead", "dead")):
                for queue, count in conn.execute(
                    "SELECT queue, count(*) FROM jobs WHERE state = ? GROUP BY queue", (state,)
                ):
                    setattr(fig(queue), attr, count)
            for queue, count in conn.execute(
                "SELECT queue, count(*) FROM attempts WHERE failure_class IS NOT NULL"
                " AND finished_at >= ? GROUP BY queue",
                (ts - DAY,),
            ):
                fig(queue).failed_24h = count
            waits: dict[str, list[float]] = defaultdict(list)
            for queue, wait in conn.execute(
                "SELECT queue, started_at - due_at FROM attempts WHERE started_at >= ?"
                " AND due_at IS NOT NULL ORDER BY started_at DESC LIMIT ?",
                (ts - 3600, WAIT_SAMPLE),
            ):
                waits[queue].append(max(0.0, wait))
            for queue, values in waits.items():
                fig(queue).waits = values
        return out

    def running_in_queue(self, queue: str) -> int:
        with self.db.read() as conn:
            return conn.execute(
                "SELECT count(*) FROM jobs WHERE state = 'running' AND queue = ?", (queue,)
            ).fetchone()[0]

    def ordering_head(self, ordering_key: str) -> tuple[int, str] | None:
        """The earliest live job with this ordering key: (id, state)."""
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT id, state FROM jobs WHERE ordering_key = ?"
                " AND state IN ('waiting', 'queued', 'running', 'retrying') ORDER BY id LIMIT 1",
                (ordering_key,),
            ).fetchone()
        return None if row is None else (row[0], row[1])

    def dependency_states(self, job_id: int) -> list[tuple[int, str]]:
        with self.db.read() as conn:
            return [
                (r[0], r[1])
                for r in conn.execute(
                    "SELECT p.id, p.state FROM job_deps d JOIN jobs p ON p.id = d.depends_on"
                    " WHERE d.job_id = ? ORDER BY p.id",
                    (job_id,),
                )
            ]
