"""Human and JSON views of jobs and status (no logic beyond formatting)."""

from __future__ import annotations

import shlex
from datetime import datetime
from typing import Any

from jobctl.cli import render
from jobctl.client import Status
from jobctl.clock import utcnow
from jobctl.domain.durations import format_duration, iso_z
from jobctl.domain.job import Attempt, Job
from jobctl.ops.shapes import job_shape, show_shape


def what(job: Job) -> str:
    if job.name:
        return job.name
    if job.job_type:
        return f"[{job.job_type}]"
    text = shlex.join(job.command or [])
    return text if len(text) <= 60 else text[:57] + "..."


def attempts_label(job: Job, history: bool = False) -> str:
    """Attempts made of the budget (`1/5`), counted since the last retry (a fresh budget);
    with `history`, also all attempts when a retry renewed the budget."""
    label = f"{job.attempts_in_budget}/{job.max_attempts}"
    if history and job.budget_start:
        label += f" since the last retry ({job.attempts} in all)"
    return label


def job_rows(jobs: list[Job], now: datetime) -> list[list[Any]]:
    return [
        [
            j.id,
            j.display_state(now),
            j.queue,
            attempts_label(j),
            render.local_time(j.created_at),
            what(j),
        ]
        for j in jobs
    ]


def one_job_status(job: Job, as_json: bool) -> None:
    now = utcnow()
    if as_json:
        render.print_json(job_shape(job, now))
        return
    extra = ""
    if job.exit_code is not None:
        extra = f" exit={job.exit_code}"
    if job.failure_class:
        extra += f" failure={job.failure_class}"
    render.say(
        f"{job.id} {job.display_state(now)} queue={job.queue} "
        f"attempts={attempts_label(job)}{extra} {what(job)}"
    )


def status(report: Status, as_json: bool) -> None:
    if as_json:
        render.print_json(
            {
                "queues": [
                    {
                        "queue": q.queue,
                        "ready": q.ready,
                        "scheduled": q.scheduled,
                        "running": q.running,
                        "retrying": q.retrying,
                        "waiting": q.waiting,
                        "failed_24h": q.failed_24h,
                        "dead": q.dead,
                        "lag_seconds": q.lag_seconds,
                        "p95_wait_seconds": q.p95_wait_seconds,
                        "paused": q.paused,
                    }
                    for q in report.queues
                ],
                "daemons": [
                    {
                        "node": d.node,
                        "host": d.host,
                        "pid": d.pid,
                        "version": d.version,
                        "queues": d.queues,
                        "started_at": iso_z(d.started_at),
                        "heartbeat_at": iso_z(d.heartbeat_at),
                    }
                    for d in report.daemons
                ],
            }
        )
        return
    render.print_table(
        [
            "queue",
            "ready",
            "scheduled",
            "running",
            "retrying",
            "failed 24h",
            "dead",
            "lag",
            "p95 wait",
        ],
        [
            [
                q.queue + (" (paused)" if q.paused else ""),
                q.ready,
                q.scheduled,
                q.running,
                q.retrying,
                q.failed_24h,
                q.dead,
                format_duration(q.lag_seconds),
                format_duration(q.p95_wait_seconds),
            ]
            for q in report.queues
        ],
    )
    render.say("")
    if not report.daemons:
        render.say("no live daemon (start one with `jobctl daemon`)")
        return
    render.print_table(
        ["node", "host", "pid", "started", "last heartbeat"],
        [
            [
                d.node,
                d.host,
                d.pid,
                render.local_time(d.started_at),
                render.local_time(d.heartbeat_at),
            ]
            for d in report.daemons
        ],
    )


def show(job: Job, attempts: list[Attempt], as_json: bool, replay_of: int | None = None) -> None:
    """`jobctl show`; `replay_of`: the DLQ entry this job was replayed from."""
    now = utcnow()
    if as_json:
        render.print_json({**show_shape(job, attempts, now), "replay_of": replay_of})
        return
    fields = [
        ("id", job.id),
        ("name", job.name),
        ("state", job.display_state(now)),
        ("queue", job.queue),
        ("command", shlex.join(job.command) if job.command else None),
        ("job type", job.job_type),
        ("handler", job.handler),
        ("payload", None if job.payload is None else job_shape(job, now)["payload"]),
        ("priority", job.priority),
        ("created", render.local_time(job.created_at)),
        ("run at", render.local_time(job.run_at)),
        ("attempts", attempts_label(job, history=True)),
        ("timeout", format_duration(job.timeout) if job.timeout else None),
        ("key", job.key),
        ("ordering key", job.ordering_key),
        ("tenant", job.tenant),
        ("depends on", ", ".join(map(str, job.depends_on)) or None),
        ("retry after", render.local_time(job.retry_after) if job.retry_after else None),
        ("exit code", job.exit_code),
        ("failure", job.failure_class),
        ("error", job.error),
        ("dlq entry", job.dlq_id),
        ("replay of dlq entry", replay_of),
        ("checkpoint", job.checkpoint),
    ]
    width = max(len(name) for name, _ in fields)
    for name, value in fields:
        if value is not None:
            render.say(f"{name.ljust(width)}  {value}")
    if attempts:
        render.say("")
        render.print_table(
            [
                "attempt",
                "node",
                "started",
                "duration",
                "exit",
                "signal",
                "failure",
                "max rss",
                "cpu",
            ],
            [
                [
                    a.attempt,
                    a.node,
                    render.local_time(a.started_at),
                    format_duration(a.duration),
                    a.exit_code,
                    a.signal,
                    a.failure_class,
                    f"{a.max_rss // 1024} KiB" if a.max_rss else None,
                    f"{a.cpu_seconds:.2f}s" if a.cpu_seconds is not None else None,
                ]
                for a in attempts
            ],
        )
    if job.output_tail:
        render.say("")
        render.say("--- output tail ---")
        render.say(job.output_tail.rstrip("\n"))
