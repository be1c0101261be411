"""Human and JSON views of jobs and status (no logic beyond formatting)."""

from __future__ import annotations

import shlex
from datetime import datetime
from typing import Any

from jobctl.cli import render
from jobctl.clock import utcnow
from jobctl.domain.durations import format_duration, iso_z
from jobctl.domain.job import Attempt, Job, State
from jobctl.domain.placement import Placement
from jobctl.ops.nodes import node_shape, node_state
from jobctl.ops.shapes import gang_shape, job_shape, show_shape
from jobctl.store.repos.gangs import Gang
from jobctl.store.repos.stats import Status


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
                "enabled": report.enabled,
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
                "nodes": [node_shape(n) for n in report.nodes],
            }
        )
        return
    if not report.enabled:
        render.say("disabled by config (enabled: false): no job is claimed, no schedule fires")
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
    header, rows = _node_lines(report)
    if rows:
        render.print_table(header, rows)


def _node_lines(report: Status) -> tuple[list[str], list[list[object]]]:
    """One line per node: its state (active | draining | dead), where and what it runs; a
    live daemon whose node is not registered (yet) gets a line of its own."""
    pids: dict[str, list[str]] = {}
    for d in report.daemons:
        pids.setdefault(d.node, []).append(str(d.pid))
    rows: list[list[object]] = []
    for n in report.nodes:
        drained = " (draining)" if n.draining and not n.alive else ""
        rows.append([
            n.name, n.host, node_state(n) + drained, ",".join(n.tags) or "-",
            ",".join(pids.get(n.name, [])) or "-", n.running,
            render.local_time(n.started_at), render.local_time(n.heartbeat_at),
        ])  # fmt: skip
    known = {n.name for n in report.nodes}
    for d in report.daemons:
        if d.node not in known:
            started, beat = render.local_time(d.started_at), render.local_time(d.heartbeat_at)
            rows.append([d.node, d.host, "active", "-", str(d.pid), "-", started, beat])
    header = ["node", "host", "state", "tags", "pid", "running", "started", "last heartbeat"]
    return header, rows


def show(
    job: Job,
    attempts: list[Attempt],
    as_json: bool,
    replay_of: int | None = None,
    gang: Gang | None = None,
) -> None:
    """`jobctl show`; `replay_of`: the DLQ entry this job was replayed from; `gang`: the
    gang the job is a member of (its members are listed, with where each last ran)."""
    now = utcnow()
    if as_json:
        extra = {"replay_of": replay_of, "gang": None if gang is None else gang_shape(gang)}
        render.print_json({**show_shape(job, attempts, now), **extra})
        return
    render.fields(
        [
            ("id", job.id),
            ("name", job.name),
            ("state", job.display_state(now)),
            ("queue", job.queue),
            ("command", render.command_line(job.command)),
            ("job type", job.job_type),
            ("handler", job.handler),
            ("payload", None if job.payload is None else render.json_text(job.payload)),
            ("priority", job.priority),
            ("created", job.created_at),
            ("run at", job.run_at),
            ("attempts", attempts_label(job, history=True)),
            ("timeout", format_duration(job.timeout) if job.timeout else None),
            ("key", job.key),
            ("ordering key", job.ordering_key),
            ("tenant", job.tenant),
            (
                "placed on",
                Placement(job.on_node, job.on_tag).describe()
                if job.on_node or job.on_tag
                else None,
            ),
            ("depends on", job.depends_on or None),
            (
                "gang",
                None
                if gang is None
                else f"{gang.id}: rank {job.gang_rank} of {gang.size}, {gang.state},"
                f" epoch {gang.epoch}",
            ),
            ("retry after", job.retry_after),
            ("exit code", job.exit_code),
            ("failure", job.failure_class),
            ("error", job.error),
            ("dlq entry", job.dlq_id),
            ("replay of dlq entry", replay_of),
            ("checkpoint", job.checkpoint),
        ],
        skip_none=True,
    )
    attempts_table(attempts)
    if gang is not None:
        render.say("")
        render.print_table(
            ["rank", "job", "state", "attempts", "node"],
            [[m.rank, m.job_id, m.state, m.attempts, m.node] for m in gang.members],
        )
    output_tail(job.output_tail)


def attempts_table(attempts: list[Attempt]) -> None:
    """The attempts of a job (`show`, `dlq show`), after a blank line; nothing if none."""
    if not attempts:
        return
    render.say("")
    render.print_table(
        ["attempt", "node", "started", "duration", "exit", "signal", "failure", "max rss", "cpu"],
        [
            [
                a.attempt,
                a.node,
                a.started_at,
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


def output_tail(text: str | None) -> None:
    """The stored tail of a job's output, as a block after a blank line."""
    if text:
        render.say("")
        render.say("--- output tail ---")
        render.say_block(text)


def shape_fields(shape: dict[str, Any], skip: tuple[str, ...] = ()) -> None:
    """A `-o json` shape for humans (`schedule show`, `dlq show`, `once show`, ...): one
    aligned line per key; times (`*_at`, `*_until`) in local time, a `command` as the shell
    line that runs it, every other value as `render.value` shows it."""

    def human(key: str, v: Any) -> Any:
        if key == "command" and isinstance(v, list):
            return render.command_line(v)
        if key.endswith(("_at", "_until")) and isinstance(v, str):
            return render.local_time(v)
        return v

    render.fields((key, human(key, v)) for key, v in shape.items() if key not in skip)


def schedule_state(enabled: bool, shadow: bool) -> str:
    """`active`, or what keeps a schedule from running: `paused`, `shadow`, `paused, shadow`."""
    return ", ".join([*(["paused"] if not enabled else []), *(["shadow"] if shadow else [])]) or (
        "active"
    )


def how_it_ended(job: Job) -> str:
    """One line for a job that ended without success: `job 38 dead after 5 attempts: exit 3`,
    `job 9 dead after 1 attempt: timed out after ...`, `job 7 cancelled: ...`."""
    if job.state is State.CANCELLED:
        return f"job {job.id} cancelled" + (f": {job.error}" if job.error else "")
    tries = f"{job.attempts} attempt{'s' if job.attempts != 1 else ''}"
    if job.failure_class == "exit" and job.exit_code is not None:
        why = f"exit {job.exit_code}" + (f" ({job.error})" if job.handler and job.error else "")
    elif job.failure_class == "signal" and job.signal is not None:
        why = f"killed by signal {job.signal} ({_signal_name(job.signal)})"
    else:
        why = job.error or job.failure_class or "no exit code"
    return f"job {job.id} {job.state.value} after {tries}: {why}"


def _signal_name(number: int) -> str:
    import signal

    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
