"""Cheap, indexed reads (and one rolled-back write) for `health`, `smoke` and `top`.

Every query here uses a partial or leading-column index, so its cost does not grow with
finished history (a million succeeded jobs must not slow `health` down)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from jobctl.domain.durations import from_epoch
from jobctl.store.database import Database

# Small tables whose b-trees `quick_check` walks: a damaged file usually shows there first,
# and checking them costs microseconds whatever the size of the jobs table.
CHECKED_TABLES = ("queues", "daemons", "schedules")
PROBE_QUEUE = "__jobctl_health_probe__"
TERMINAL_STATES = ("succeeded", "dead", "cancelled")


@dataclass(frozen=True)
class RunningAttempt:
    job_id: int
    name: str | None
    queue: str
    attempt: int
    node: str | None
    pid: int | None
    pid_start: int | None
    started_at: datetime
    command: str | None  # JSON argv as stored


@dataclass(frozen=True)
class RecentFailure:
    job_id: int
    name: str | None
    queue: str
    attempt: int
    finished_at: datetime
    exit_code: int | None
    failure_class: str


class _RollBack(Exception):
    """Ends the write probe's transaction without committing."""


class HealthRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    def probe_write(self, now: datetime) -> None:
        """Take the write lock and write a row, then roll back: proves the DB is writable
        (not read-only, not locked beyond the busy timeout) and leaves nothing behind."""
        try:
            with self.db.write() as conn:
                conn.execute(
                    "INSERT INTO queues (name, paused, updated_at) VALUES (?, 0, ?)",
                    (PROBE_QUEUE, now.timestamp()),
                )
                raise _RollBack
        except _RollBack:
            pass

    def quick_check(self) -> list[str]:
        """Problems a quick look at the schema and the small tables finds (empty when sound);
        the big tables are left to `jobctl db check`, which may take long."""
        return self.db.quick_check(CHECKED_TABLES)

    def dlq_added_since(self, since: datetime) -> dict[str, int]:
        """Dead letters created at or after `since`, per queue."""
        with self.db.read() as conn:
            return {
                q: n
                for q, n in conn.execute(
                    "SELECT queue, count(*) FROM dlq WHERE created_at >= ? GROUP BY queue",
                    (since.timestamp(),),
                )
            }

    def last_success(self, schedule: str) -> datetime | None:
        """When the newest succeeded job of `schedule` finished (None: never)."""
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT finished_at FROM jobs INDEXED BY jobs_schedule"
                " WHERE schedule = ? AND state = 'succeeded' ORDER BY id DESC LIMIT 1",
                (schedule,),
            ).fetchone()
        return from_epoch(row[0]) if row else None

    def finished_since(self, since: datetime) -> dict[str, int]:
        """Jobs that reached a terminal state at or after `since`, per queue."""
        marks = ",".join("?" * len(TERMINAL_STATES))
        with self.db.read() as conn:
            return {
                q: n
                for q, n in conn.execute(
                    f"SELECT queue, count(*) FROM jobs WHERE state IN ({marks})"
                    " AND finished_at >= ? GROUP BY queue",
                    (*TERMINAL_STATES, since.timestamp()),
                )
            }

    def running_attempts(self, limit: int = 200) -> list[RunningAttempt]:
        """Open attempts of running jobs, oldest first, with the runner's pid."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT a.job_id, j.name, a.queue, a.attempt, a.node, a.pid, a.pid_start,"
                " a.started_at, j.command FROM attempts a INDEXED BY attempts_open"
                " JOIN jobs j ON j.id = a.job_id"
                " WHERE a.finished_at IS NULL AND j.state = 'running'"
                " ORDER BY a.started_at LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            RunningAttempt(r[0], r[1], r[2], r[3], r[4], r[5], r[6], from_epoch(r[7]), r[8])
            for r in rows
        ]

    def recent_failures(self, limit: int = 10) -> list[RecentFailure]:
        """The newest failed attempts (any failure class), newest first."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT a.job_id, j.name, a.queue, a.attempt, a.finished_at, a.exit_code,"
                " a.failure_class FROM attempts a INDEXED BY attempts_failed"
                " JOIN jobs j ON j.id = a.job_id"
                " WHERE a.failure_class IS NOT NULL ORDER BY a.finished_at DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [RecentFailure(r[0], r[1], r[2], r[3], from_epoch(r[4]), r[5], r[6]) for r in rows]

    def job_states(self, ids: list[int]) -> dict[int, tuple[str, float | None, float | None]]:
        """id → (state, started_at, finished_at) for the given jobs (smoke's canaries)."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        with self.db.read() as conn:
            return {
                r[0]: (r[1], r[2], r[3])
                for r in conn.execute(
                    f"SELECT id, state, started_at, finished_at FROM jobs WHERE id IN ({marks})",
                    ids,
                )
            }
