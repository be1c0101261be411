"""The `-o json` shapes of SPEC "JSON shapes": stable keys, UTC `Z` times, seconds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jobctl.domain.audit import AuditEntry
from jobctl.domain.durations import iso_z
from jobctl.domain.job import Attempt, Job
from jobctl.store.repos.dlq import DeadLetter
from jobctl.store.repos.gangs import Gang


def job_shape(job: Job, now: datetime) -> dict[str, Any]:
    return {
        "id": job.id,
        "name": job.name,
        "queue": job.queue,
        "state": job.display_state(now),
        "schedule": job.schedule,
        "nominal_at": iso_z(job.nominal_at),
        "command": job.command,
        "job_type": job.job_type,
        "payload": job.payload,
        "priority": job.priority,
        "run_at": iso_z(job.run_at),
        "created_at": iso_z(job.created_at),
        "started_at": iso_z(job.started_at),
        "finished_at": iso_z(job.finished_at),
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "exit_code": job.exit_code,
        "failure_class": job.failure_class,
        "key": job.key,
        "ordering_key": job.ordering_key,
        "tenant": job.tenant,
        "depends_on": list(job.depends_on),
        "retry_after": iso_z(job.retry_after),
        "dlq_id": job.dlq_id,
        "request_id": job.request_id,
        "on_node": job.on_node,
        "on_tag": job.on_tag,
        "gang_id": job.gang_id,
        "gang_rank": job.gang_rank,
    }


def attempt_shape(attempt: Attempt) -> dict[str, Any]:
    return {
        "attempt": attempt.attempt,
        "node": attempt.node,
        "started_at": iso_z(attempt.started_at),
        "finished_at": iso_z(attempt.finished_at),
        "exit_code": attempt.exit_code,
        "signal": attempt.signal,
        "failure_class": attempt.failure_class,
        "duration": attempt.duration,
        "max_rss": attempt.max_rss,
        "cpu_seconds": attempt.cpu_seconds,
    }


def show_shape(job: Job, attempts: list[Attempt], now: datetime) -> dict[str, Any]:
    shape = job_shape(job, now)
    shape["attempt_log"] = [attempt_shape(a) for a in attempts]
    shape["output_tail"] = job.output_tail
    shape["error"] = job.error
    shape["handler"] = job.handler
    shape["timeout"] = job.timeout
    shape["checkpoint"] = job.checkpoint
    return shape


def gang_shape(gang: Gang) -> dict[str, Any]:
    """A gang as `show -o json` gives it: its state, epoch and members."""
    return {
        "id": gang.id,
        "size": gang.size,
        "state": gang.state,
        "epoch": gang.epoch,
        "started_at": iso_z(gang.started_at),
        "finished_at": iso_z(gang.finished_at),
        "members": [
            {"rank": m.rank, "job_id": m.job_id, "state": m.state, "attempts": m.attempts,
             "node": m.node}
            for m in gang.members
        ],
    }  # fmt: skip


def dlq_shape(entry: DeadLetter) -> dict[str, Any]:
    return {
        "id": entry.id,
        "job_id": entry.job_id,
        "queue": entry.queue,
        "failure_class": entry.failure_class,
        "error": entry.error,
        "payload": entry.payload,
        "output_tail": entry.output_tail,
        "created_at": iso_z(entry.created_at),
        "replayed_job_id": entry.replayed_job_id,
    }


def audit_shape(entry: AuditEntry) -> dict[str, Any]:
    return {
        "at": iso_z(entry.at),
        "actor": entry.actor,
        "uid": entry.uid,
        "host": entry.host,
        "request_id": entry.request_id,
        "action": entry.action,
        "target": entry.target,
        "args": entry.args,
        "outcome": entry.outcome,
    }
