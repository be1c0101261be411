"""Schedules and their fire ledger. A fire is recorded once per (schedule, nominal time):
the primary key makes racing daemons harmless, and its job is enqueued in the same
transaction only when the record was new."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jobctl.domain.durations import from_epoch
from jobctl.domain.job import JobSpec
from jobctl.domain.schedule import FireDecision, Misfire, Overlap, Schedule
from jobctl.errors import InvalidInput, NotFound, WrongState
from jobctl.store.database import Conn, Database, Row
from jobctl.store.records import dumps, loads
from jobctl.store.repos.jobs import JobsRepo, request_cancel
from jobctl.store.repos.notify import fire_events

COLUMNS = (
    "name",
    "cron",
    "tz",
    "queue",
    "command",
    "job_type",
    "payload",
    "env",
    "stdin",
    "enabled",
    "shadow",
    "overlap",
    "misfire",
    "jitter",
    "dst_gap",
    "dst_repeat",
    "timeout",
    "max_attempts",
    "origin",
    "source",
    "user",
    "on_node",
    "on_tag",
    "on_every_node",
    "stagger",
    "owner",
    "severity",
    "ping",
    "max_runtime",
    "min_runtime",
    "deadline",
    "pause_after",
    "mailto",
)


class ScheduleChanged(WrongState):
    """`record_fires` was refused: the schedule was edited (paused, demoted, removed, ...)
    since the fires were decided from it. Nothing was recorded; decide again."""


@dataclass(frozen=True)
class FireRecord:
    schedule: str
    nominal_at: datetime
    handled_at: datetime
    outcome: str
    job_id: int | None
    lateness: float | None


@dataclass(frozen=True)
class LiveJob:
    """A job of a schedule that has not ended, and the node it is placed on (if any)."""

    id: int
    on_node: str | None


def _specs(specs: JobSpec | Sequence[JobSpec] | None) -> list[JobSpec]:
    if specs is None:
        return []
    return [specs] if isinstance(specs, JobSpec) else list(specs)


@dataclass(frozen=True)
class FireJob:
    """A job a fire enqueued: its id, the node it is placed on, its state."""

    id: int
    on_node: str | None
    state: str


@dataclass(frozen=True)
class LastFire:
    """A schedule's newest recorded fire: its nominal time, outcome and jobs."""

    nominal_at: datetime
    outcome: str
    jobs: tuple[FireJob, ...]


@dataclass(frozen=True)
class LastRun:
    nominal_at: datetime
    job_id: int
    state: str


def _row_values(s: Schedule) -> list[Any]:
    return [
        s.name,
        s.cron,
        s.tz,
        s.queue,
        dumps(s.command),
        s.job_type,
        dumps(s.payload),
        dumps(s.env) if s.env else None,
        s.stdin,
        int(s.enabled),
        None if s.shadow is None else int(s.shadow),
        s.overlap.value,
        s.misfire.value,
        s.jitter,
        s.dst_gap,
        s.dst_repeat,
        s.timeout,
        s.max_attempts,
        s.origin,
        s.source,
        s.user,
        s.on_node,
        s.on_tag,
        int(s.on_every_node),
        s.stagger,
        s.owner,
        s.severity,
        s.ping,
        s.max_runtime,
        s.min_runtime,
        s.deadline,
        s.pause_after,
        s.mailto,
    ]


def _quoted(column: str) -> str:
    """A column name for SQL: `user` is a reserved word on PostgreSQL."""
    return f'"{column}"' if column == "user" else column


def _schedule(row: Row) -> Schedule:
    return Schedule(
        name=row["name"],
        cron=row["cron"],
        tz=row["tz"],
        queue=row["queue"],
        command=loads(row["command"]),
        job_type=row["job_type"],
        payload=loads(row["payload"]),
        env=loads(row["env"]) or {},
        stdin=row["stdin"],
        enabled=bool(row["enabled"]),
        shadow=None if row["shadow"] is None else bool(row["shadow"]),
        overlap=Overlap(row["overlap"]),
        misfire=Misfire(row["misfire"]),
        jitter=row["jitter"],
        dst_gap=row["dst_gap"],
        dst_repeat=row["dst_repeat"],
        timeout=row["timeout"],
        max_attempts=row["max_attempts"],
        origin=row["origin"],
        source=row["source"],
        user=row["user"],
        on_node=row["on_node"],
        on_tag=row["on_tag"],
        on_every_node=bool(row["on_every_node"]),
        stagger=row["stagger"],
        owner=row["owner"],
        severity=row["severity"],
        ping=row["ping"],
        max_runtime=row["max_runtime"],
        min_runtime=row["min_runtime"],
        deadline=row["deadline"],
        pause_after=row["pause_after"],
        paused_reason=row["paused_reason"],
        mailto=row["mailto"],
        created_at=from_epoch(row["created_at"]),
        updated_at=from_epoch(row["updated_at"]),
        cursor_at=from_epoch(row["cursor_at"]),
    )


class SchedulesRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, schedule: Schedule, now: datetime) -> None:
        """Create; an existing name is InvalidInput. Fires start after `now`."""
        with self.db.write() as conn:
            if conn.execute("SELECT 1 FROM schedules WHERE name = ?", (schedule.name,)).fetchone():
                raise InvalidInput(f"schedule {schedule.name!r} already exists (rm it first)")
            self._insert(conn, schedule, now)

    @staticmethod
    def _insert(conn: Conn, schedule: Schedule, now: datetime) -> None:
        ts = now.timestamp()
        columns = (*COLUMNS, "created_at", "updated_at", "cursor_at")
        marks = ", ".join("?" * len(columns))
        conn.execute(
            f"INSERT INTO schedules ({', '.join(map(_quoted, columns))}) VALUES ({marks})",
            [*_row_values(schedule), ts, ts, ts],
        )

    def get(self, name: str) -> Schedule:
        with self.db.read() as conn:
            row = conn.execute("SELECT * FROM schedules WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise NotFound(f"no schedule named {name!r}")
        return _schedule(row)

    def list(self) -> list[Schedule]:
        with self.db.read() as conn:
            return [_schedule(r) for r in conn.execute("SELECT * FROM schedules ORDER BY name")]

    def changed_marker(self) -> tuple[int, float | None]:
        """Cheap: changes whenever a schedule is added, removed or edited."""
        with self.db.read() as conn:
            count, latest = conn.execute(
                "SELECT count(*), max(updated_at) FROM schedules"
            ).fetchone()
        return count, latest

    def remove(self, name: str) -> None:
        with self.db.write() as conn:
            if not conn.execute("DELETE FROM schedules WHERE name = ?", (name,)).rowcount:
                raise NotFound(f"no schedule named {name!r}")

    def update(self, name: str, now: datetime, **fields: Any) -> None:
        """Set columns (enabled, shadow, ...) of one schedule. Resuming it (`enabled=1`) also
        ends its failure streak, in the same transaction: `pause_after` counts afresh."""
        sets = ", ".join(f"{_quoted(k)} = ?" for k in fields)
        with self.db.write() as conn:
            done = conn.execute(
                f"UPDATE schedules SET {sets}, updated_at = ? WHERE name = ?",
                [*fields.values(), now.timestamp(), name],
            ).rowcount
            if not done:
                raise NotFound(f"no schedule named {name!r}")
            if fields.get("enabled") == 1:
                conn.execute(
                    "UPDATE notify_streaks SET failures = 0, updated_at = ? WHERE subject = ?",
                    (now.timestamp(), f"schedule:{name}"),
                )

    def reconcile_config(
        self, schedules: Sequence[Schedule], now: datetime
    ) -> tuple[int, int, int]:
        """Make config-owned schedules match `schedules` (CLI-made ones are untouched): returns
        (created, updated, removed). A CLI-made schedule of the same name is InvalidInput."""
        created = updated = removed = 0
        with self.db.write() as conn:
            current = {r["name"]: r for r in conn.execute("SELECT * FROM schedules")}
            wanted = {s.name for s in schedules}
            for schedule in schedules:
                row = current.get(schedule.name)
                if row is None:
                    self._insert(conn, schedule, now)
                    created += 1
                elif row["origin"] != "config":
                    raise InvalidInput(
                        f"config schedule {schedule.name!r} clashes with a {row['origin']}-made one"
                    )
                elif [row[c] for c in COLUMNS] != _row_values(schedule):
                    sets = ", ".join(f"{_quoted(c)} = ?" for c in COLUMNS)
                    conn.execute(
                        f"UPDATE schedules SET {sets}, updated_at = ? WHERE name = ?",
                        [*_row_values(schedule), now.timestamp(), schedule.name],
                    )
                    updated += 1
            for name, row in current.items():
                if row["origin"] == "config" and name not in wanted:
                    conn.execute("DELETE FROM schedules WHERE name = ?", (name,))
                    removed += 1
        return created, updated, removed

    # --- fires ---------------------------------------------------------------------------
    def record_boot(self, boot_id: str, node: str, now: datetime) -> datetime:
        """When this boot was first seen: `now` for the first call with `boot_id`, else the
        time the first caller recorded (atomic: racing daemons of one boot agree). It is the
        nominal time of the boot's @reboot fires."""
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO boots (boot_id, seen_at, node) VALUES (?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                (boot_id, now.timestamp(), node),
            )
            (seen,) = conn.execute(
                "SELECT seen_at FROM boots WHERE boot_id = ?", (boot_id,)
            ).fetchone()
        return from_epoch(seen)

    def record_fires(
        self,
        name: str,
        decisions: Sequence[tuple[FireDecision, JobSpec | Sequence[JobSpec] | None]],
        cursor: datetime,
        now: datetime,
        cancel_ids: Sequence[int] = (),
        seen: Schedule | None = None,
    ) -> builtins.list[tuple[FireDecision, int | None]]:
        """In one transaction: record each fire not recorded yet, enqueue its job (or, for
        an `--on-every-node` fire, its jobs: one per node) when it has specs, cancel
        `cancel_ids` (overlap: replace) when a job was enqueued, advance the cursor. Returns
        the fires this call recorded (another daemon, or an earlier start in the same boot,
        may have recorded the rest) with their (first) job ids. With `seen` (the schedule
        the fires were decided from) it is ScheduleChanged, and nothing is recorded, when
        the schedule was edited or removed since: a `schedule pause` or `demote` that has
        returned is never followed by a job decided before it."""
        jobs = JobsRepo(self.db)
        recorded: list[tuple[FireDecision, int | None]] = []
        with self.db.write() as conn:
            _advance_cursor(conn, name, cursor, seen)
            for decision, specs in decisions:
                inserted = conn.execute(
                    "INSERT INTO fires (schedule, nominal_at, handled_at, outcome,"
                    " lateness) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (
                        name,
                        decision.nominal_at.timestamp(),
                        now.timestamp(),
                        decision.outcome.value,
                        (now - decision.nominal_at).total_seconds(),
                    ),
                ).rowcount
                if not inserted:
                    continue
                ids = [jobs.enqueue_in(conn, spec, now) for spec in _specs(specs)]
                if ids:
                    conn.execute(
                        "UPDATE fires SET job_id = ? WHERE schedule = ? AND nominal_at = ?",
                        (ids[0], name, decision.nominal_at.timestamp()),
                    )
                recorded.append((decision, ids[0] if ids else None))
            fire_events(conn, name, [(d.outcome.value, d.nominal_at) for d, _ in recorded], now)
            if cancel_ids and any(job_id is not None for _, job_id in recorded):
                request_cancel(conn, cancel_ids, now, f"replaced by a newer fire of {name}")
        return recorded

    def live_jobs(self, name: str) -> builtins.list[LiveJob]:
        """The schedule's jobs that have not ended, with the node each is placed on."""
        with self.db.read() as conn:
            return [
                LiveJob(r[0], r[1])
                for r in conn.execute(
                    "SELECT id, on_node FROM jobs WHERE schedule = ?"
                    " AND state IN ('waiting', 'queued', 'running', 'retrying') ORDER BY id",
                    (name,),
                )
            ]

    def last_run(self, name: str) -> LastRun | None:
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT f.nominal_at, f.job_id, j.state FROM fires f JOIN jobs j ON j.id = f.job_id"
                " WHERE f.schedule = ? ORDER BY f.nominal_at DESC LIMIT 1",
                (name,),
            ).fetchone()
        if row is None:
            return None
        return LastRun(from_epoch(row[0]), row[1], row[2])

    def last_fire(self, name: str) -> LastFire | None:
        """The schedule's newest recorded fire, whatever its outcome, with the jobs it
        enqueued (one, or one per node for `--on-every-node`; none for a missed fire)."""
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT nominal_at, outcome, job_id FROM fires WHERE schedule = ?"
                " ORDER BY nominal_at DESC LIMIT 1",
                (name,),
            ).fetchone()
            if row is None:
                return None
            jobs: builtins.list[FireJob] = []
            if row[2] is not None:  # its jobs were enqueued together, from the first id on
                jobs = [
                    FireJob(r[0], r[1], r[2])
                    for r in conn.execute(
                        "SELECT id, on_node, state FROM jobs INDEXED BY jobs_schedule"
                        " WHERE schedule = ? AND id >= ? AND nominal_at = ? ORDER BY id",
                        (name, row[2], row[0]),
                    )
                ]
        return LastFire(from_epoch(row[0]), row[1], tuple(jobs))

    def run_durations(self, name: str, limit: int) -> builtins.list[float]:
        """Durations of the finished attempts of the schedule's latest `limit` runs' jobs
        (its jobs newest first, by the jobs_schedule index): the run-time lint's sample."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT a.duration FROM jobs j INDEXED BY jobs_schedule"
                " JOIN attempts a ON a.job_id = j.id"
                " WHERE j.schedule = ? AND a.duration IS NOT NULL"
                " ORDER BY j.id DESC LIMIT ?",
                (name, limit),
            ).fetchall()
        return [r[0] for r in rows]

    def fires(
        self, name: str | None, since: datetime | None, outcomes: Sequence[str] | None = None
    ) -> builtins.list[FireRecord]:
        """Recorded fires, newest first, optionally of one schedule / since / by outcome."""
        where: list[str] = []
        args: list[Any] = []
        if name is not None:
            where.append("schedule = ?")
            args.append(name)
        if since is not None:
            where.append("nominal_at >= ?")
            args.append(since.timestamp())
        if outcomes:
            where.append(f"outcome IN ({', '.join('?' * len(outcomes))})")
            args += list(outcomes)
        sql = "SELECT * FROM fires" + (" WHERE " + " AND ".join(where) if where else "")
        with self.db.read() as conn:
            rows = conn.execute(sql + " ORDER BY nominal_at DESC LIMIT 10000", args).fetchall()
        return [
            FireRecord(
                r["schedule"],
                from_epoch(r["nominal_at"]),
                from_epoch(r["handled_at"]),
                r["outcome"],
                r["job_id"],
                r["lateness"],
            )
            for r in rows
        ]


def _advance_cursor(conn: Conn, name: str, cursor: datetime, seen: Schedule | None) -> None:
    """Move the schedule's cursor on to `cursor` (never back). With `seen`, only while the
    row is still the one `seen` was read from (its `updated_at`, to the microsecond `seen`
    carries), else ScheduleChanged. The statement locks the row on PostgreSQL, so an edit
    either committed before (and is seen here) or waits for the caller's commit."""
    ts = cursor.timestamp()
    sql = (
        "UPDATE schedules SET cursor_at = CASE WHEN cursor_at < ? THEN ? ELSE cursor_at END"
        " WHERE name = ?"
    )
    params: list[object] = [ts, ts, name]
    if seen is not None and seen.updated_at is not None:
        sql += " AND abs(updated_at - ?) < 0.00001"
        params.append(seen.updated_at.timestamp())
    if not conn.execute(sql, params).rowcount and seen is not None:
        raise ScheduleChanged(f"schedule {name!r} changed while its fires were decided")
