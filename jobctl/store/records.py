"""Row ↔ domain conversion shared by the store backends."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jobctl.domain.durations import from_epoch
from jobctl.domain.job import JobSpec, State
from jobctl.domain.retry import Backoff, Jitter, RetryPolicy

if TYPE_CHECKING:
    from jobctl.domain.job_record import Attempt, Job


def epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


_ENCODE = json.JSONEncoder(separators=(",", ":")).encode  # json.dumps builds one per call


def dumps(value: Any) -> str | None:
    return None if value is None else _ENCODE(value)


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


SPEC_COLUMNS = (
    "queue",
    "name",
    "command",
    "job_type",
    "handler",
    "payload",
    "priority",
    "run_at",
    "created_at",
    "max_attempts",
    "backoff",
    "backoff_base",
    "backoff_max",
    "jitter",
    "timeout",
    "key",
    "ordering_key",
    "tenant",
    "env",
    "cwd",
    "run_user",
    "run_group",
    "schedule",
    "nominal_at",
    "request_id",
    "on_node",
    "on_tag",
)


def spec_values(spec: JobSpec, now: float) -> tuple[Any, ...]:
    """Column values of a new job in SPEC_COLUMNS order; `now` in epoch seconds."""
    command, payload, retry = spec.command, spec.payload, spec.retry
    return (
        spec.queue,
        spec.name,
        None if command is None else _ENCODE(command),
        spec.job_type,
        spec.handler,
        None if payload is None else _ENCODE(payload),
        spec.priority,
        now if spec.run_at is None else spec.run_at.timestamp(),
        now,
        retry.max_attempts,
        retry.backoff.value,
        retry.base,
        retry.max,
        retry.jitter.value,
        spec.timeout,
        spec.key,
        spec.ordering_key,
        spec.tenant,
        _ENCODE(spec.env) if spec.env else None,
        spec.cwd,
        spec.user,
        spec.group,
        spec.schedule,
        None if spec.nominal_at is None else spec.nominal_at.timestamp(),
        spec.request_id,
        spec.on_node,
        spec.on_tag,
    )


def spec_row(spec: JobSpec, now: datetime) -> dict[str, Any]:
    """Column values for a new job from its spec (state decided by the caller)."""
    return dict(zip(SPEC_COLUMNS, spec_values(spec, now.timestamp()), strict=True))


def job_from_row(row: Mapping[str, Any], depends_on: tuple[int, ...] = ()) -> Job:
    from jobctl.domain.job_record import Job  # off the enqueue path

    return Job(
        id=row["id"],
        queue=row["queue"],
        state=State(row["state"]),
        created_at=from_epoch(row["created_at"]),
        run_at=from_epoch(row["run_at"]),
        command=loads(row["command"]),
        job_type=row["job_type"],
        handler=row["handler"],
        payload=loads(row["payload"]),
        name=row["name"],
        priority=row["priority"],
        attempts=row["attempts"],
        budget_start=row["budget_start"],
        retry=RetryPolicy(
            max_attempts=row["max_attempts"],
            backoff=Backoff(row["backoff"]),
            base=row["backoff_base"],
            max=row["backoff_max"],
            jitter=Jitter(row["jitter"]),
        ),
        timeout=row["timeout"],
        started_at=from_epoch(row["started_at"]),
        finished_at=from_epoch(row["finished_at"]),
        exit_code=row["exit_code"],
        signal=row["signal"],
        failure_class=row["failure_class"],
        error=row["error"],
        key=row["key"],
        ordering_key=row["ordering_key"],
        tenant=row["tenant"],
        depends_on=depends_on,
        retry_after=from_epoch(row["retry_after"]),
        dlq_id=row["dlq_id"],
        env=loads(row["env"]) or {},
        cwd=row["cwd"],
        user=row["run_user"],
        group=row["run_group"],
        schedule=row["schedule"],
        nominal_at=from_epoch(row["nominal_at"]),
        lease_owner=row["lease_owner"],
        lease_expires_at=from_epoch(row["lease_expires_at"]),
        cancel_requested=bool(row["cancel_requested"]),
        checkpoint=row["checkpoint"],
        output_tail=row["output_tail"],
        request_id=row["request_id"],
        on_node=row["on_node"],
        on_tag=row["on_tag"],
        gang_id=row["gang_id"],
        gang_rank=row["gang_rank"],
        gang_size=row["gang_size"],
    )


def attempt_from_row(row: Mapping[str, Any]) -> Attempt:
    from jobctl.domain.job_record import Attempt

    return Attempt(
        job_id=row["job_id"],
        attempt=row["attempt"],
        node=row["node"],
        started_at=from_epoch(row["started_at"]),
        finished_at=from_epoch(row["finished_at"]),
        exit_code=row["exit_code"],
        signal=row["signal"],
        failure_class=row["failure_class"],
        duration=row["duration"],
        max_rss=row["max_rss"],
        cpu_seconds=row["cpu_seconds"],
        pid=row["pid"],
        log_path=row["log_path"],
    )


@dataclass(frozen=True)
class ServerFigures:
    """A database server's own health figures (PostgreSQL), for `health`."""

    dead_tuple_ratio: float  # dead / (live + dead) tuples of the jobs table
    dead_tuples: int
    oldest_xact: float  # seconds the oldest open transaction on the database has been open
