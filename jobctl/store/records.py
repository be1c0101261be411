"""Row ↔ domain conversion shared by the store backends."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from jobctl.domain.durations import from_epoch
from jobctl.domain.job import Attempt, Job, JobSpec, State
from jobctl.domain.retry import Backoff, Jitter, RetryPolicy


def epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def spec_row(spec: JobSpec, now: datetime) -> dict[str, Any]:
    """Column values for a new job from its spec (state decided by the caller)."""
    run_at = spec.run_at or now
    return {
        "queue": spec.queue,
        "name": spec.name,
        "command": dumps(spec.command),
        "job_type": spec.job_type,
        "handler": spec.handler,
        "payload": dumps(spec.payload),
        "priority": spec.priority,
        "run_at": run_at.timestamp(),
        "created_at": now.timestamp(),
        "max_attempts": spec.retry.max_attempts,
        "backoff": spec.retry.backoff.value,
        "backoff_base": spec.retry.base,
        "backoff_max": spec.retry.max,
        "jitter": spec.retry.jitter.value,
        "timeout": spec.timeout,
        "key": spec.key,
        "ordering_key": spec.ordering_key,
        "tenant": spec.tenant,
        "env": dumps(spec.env) if spec.env else None,
        "cwd": spec.cwd,
        "run_user": spec.user,
        "run_group": spec.group,
        "schedule": spec.schedule,
        "nominal_at": epoch(spec.nominal_at),
        "request_id": spec.request_id,
    }


def job_from_row(row: Mapping[str, Any], depends_on: tuple[int, ...] = ()) -> Job:
    return Job(
        id=row["id"],
        queue=row["queue"],
        state=State(row["state"]),
        created_at=from_epoch(row["created_at"]),  # type: ignore[arg-type]
        run_at=from_epoch(row["run_at"]),  # type: ignore[arg-type]
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
    )


def attempt_from_row(row: Mapping[str, Any]) -> Attempt:
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
