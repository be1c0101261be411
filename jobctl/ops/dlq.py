"""Dead letters: list, replay (a new job from the dead job's spec, linked both ways) and purge.

A replay is idempotent: an entry already replayed is skipped unless `again`. An entry whose
idempotency key is held by a live job is skipped (a replay never runs a duplicate).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jobctl.domain.durations import iso_z
from jobctl.domain.job import Job, JobSpec, key_held
from jobctl.errors import InvalidInput
from jobctl.store.repos.dlq import DeadLetter, Decide, Replayed, Selection

if TYPE_CHECKING:
    from jobctl.store.protocol import Store

__all__ = ["Replayed", "Selection", "decide", "purge", "replay", "replay_shape", "spec_of"]


def spec_of(job: Job, request_id: str | None = None) -> JobSpec:
    """The spec of a fresh job that does what the dead `job` did: same command or job type,
    payload, queue and options, a fresh attempt budget, no dependencies, due now; created by
    the request `request_id` (the replay's)."""
    return JobSpec(
        command=job.command, job_type=job.job_type, handler=job.handler, payload=job.payload,
        queue=job.queue, name=job.name, priority=job.priority, retry=job.retry,
        timeout=job.timeout, key=job.key, ordering_key=job.ordering_key, tenant=job.tenant,
        env=dict(job.env), cwd=job.cwd, user=job.user, group=job.group, schedule=job.schedule,
        request_id=request_id, on_node=job.on_node, on_tag=job.on_tag,
        gang_size=job.gang_size,  # a dead gang's entry: the replay is a new gang of N
    )  # fmt: skip


def decide(again: bool) -> Decide:
    """The skip rule of a replay (see the module docstring)."""

    def skip_reason(entry: DeadLetter, job: Job | None, key_holder: int | None) -> str | None:
        if entry.replayed_job_id is not None and not again:
            return f"already replayed as job {entry.replayed_job_id} (use --again)"
        if job is None:
            return f"its job {entry.job_id} is gone (removed by retention)"
        if key_holder is not None and job.key is not None:
            return key_held(job.key, key_holder)
        return None

    return skip_reason


@dataclass(frozen=True)
class ReplayRequest:
    ids: tuple[int, ...] = ()
    all: bool = False
    queue: str | None = None
    failure_class: str | None = None
    since: datetime | None = None
    again: bool = False
    dry_run: bool = False
    request_id: str | None = None  # the replay's, given to the jobs it creates


def selection(request: ReplayRequest) -> Selection:
    """IDs or --all (with filters), not both, not neither; InvalidInput otherwise."""
    if request.ids and request.all:
        raise InvalidInput("dlq replay: give entry ids or --all, not both")
    if not request.ids and not request.all:
        raise InvalidInput("dlq replay: give entry ids, or --all (with --queue/--class/--since)")
    if request.ids and (request.queue or request.failure_class or request.since):
        raise InvalidInput("dlq replay: --queue, --class and --since filter --all, not ids")
    return Selection(
        ids=request.ids, queue=request.queue, failure_class=request.failure_class,
        since=request.since, replayed=None if request.again or request.ids else False,
    )  # fmt: skip


def replay(store: Store, request: ReplayRequest, now: datetime) -> list[Replayed]:
    """Replay the requested entries in one transaction (nothing written for a dry run)."""
    return store.dlq.replay(
        selection(request), now, decide(request.again),
        lambda job: spec_of(job, request.request_id), dry_run=request.dry_run,
    )  # fmt: skip


def purge(store: Store, older_than: datetime | None) -> int:
    """Delete the entries created before `older_than` (all when None); returns how many."""
    return store.dlq.purge(older_than)


def replay_shape(item: Replayed, dry_run: bool) -> dict[str, Any]:
    """One line of a replay report as JSON."""
    action = "would_replay" if dry_run else "replayed"
    if item.skipped is not None:
        action = "skipped"
    return {
        "id": item.entry.id,
        "job_id": item.entry.job_id,
        "queue": item.entry.queue,
        "failure_class": item.entry.failure_class,
        "created_at": iso_z(item.entry.created_at),
        "action": action,
        "replayed_job_id": item.job_id,
        "reason": item.skipped,
    }
