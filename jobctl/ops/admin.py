"""What an operator changes on jobs and schedules, the same through the CLI and the HTTP
admin API: retry, cancel, pause / resume / promote / demote, run now.

Each call passes its guard rail (bulk actions: the count confirmed, `ops.guard`) and is
audited with the caller's identity and request id (`ops.audit`): `ok`, `refused` or
`failed`; invalid input records nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jobctl.config.model import Config
from jobctl.config.resolve import build_spec
from jobctl.domain.audit import ids_target
from jobctl.domain.schedule import Schedule, spread_over_nodes
from jobctl.errors import WrongState
from jobctl.ops.audit import Caller, audited
from jobctl.ops.guard import confirm_count, confirm_name
from jobctl.store.repos.jobs import CancelResult, Retried

if TYPE_CHECKING:
    from jobctl.store.protocol import Store

RETRY_CONFIRM_OVER = 100  # retrying more jobs than this needs the count confirmed
CANCEL_CONFIRM_OVER = 1
IDS_KEPT = 100  # job ids an audit entry lists (beyond: their count)
CANCEL_REASON = "cancelled by operator"


def _audited(
    store: Store,
    caller: Caller,
    now: datetime,
    action: str,
    target: str | None,
    args: dict[str, Any],
    guard: Callable[[], None] | None = None,
) -> Any:
    return audited(
        lambda: store,
        caller,
        action,
        target,
        args,
        guard,
        now=lambda: now,
    )


def _ids_arg(ids: Sequence[int]) -> list[int] | int:
    return list(ids) if len(ids) <= IDS_KEPT else len(ids)


def _bulk_guard(action: str, count: int, over: int, caller: Caller) -> Callable[[], None] | None:
    if count <= over:
        return None
    return lambda: confirm_count(action, count, caller.confirm, caller.prompt, caller.hint)


def retry_jobs(
    store: Store, ids: Sequence[int], caller: Caller, now: datetime, **args: Any
) -> list[Retried]:
    """Run the jobs again now with a fresh attempt budget (over RETRY_CONFIRM_OVER: the
    count confirmed). A job whose key a live job holds is skipped (its Retried says why).
    `args` (e.g. the `--state` selection) join the audit entry."""
    ids = list(dict.fromkeys(ids))
    record = {"ids": _ids_arg(ids), **args, "confirm": caller.confirm}
    guard = _bulk_guard("retry", len(ids), RETRY_CONFIRM_OVER, caller)
    with _audited(store, caller, now, "job.retry", ids_target(ids), record, guard) as audit:
        results = store.jobs.retry(ids, now, caller.request_id) if ids else []
        skipped = [r.id for r in results if r.skipped]
        if skipped:
            audit.args["skipped"] = skipped[:IDS_KEPT]
    return results


def cancel_jobs(
    store: Store, ids: Sequence[int], caller: Caller, now: datetime
) -> list[CancelResult]:
    """Cancel the jobs (more than one: the count confirmed): queued ones at once, running
    ones by their daemon. An unknown or finished job: nothing is done (NotFound,
    WrongState)."""
    ids = list(dict.fromkeys(ids))
    record = {"ids": _ids_arg(ids), "confirm": caller.confirm}
    guard = _bulk_guard("cancel", len(ids), CANCEL_CONFIRM_OVER, caller)
    with _audited(store, caller, now, "job.cancel", ids_target(ids), record, guard):
        return store.jobs.cancel(ids, now, CANCEL_REASON)


def set_schedule(
    store: Store, name: str, action: str, caller: Caller, now: datetime, **fields: Any
) -> None:
    """Pause (`enabled=0`), resume, promote (`shadow=0`) one schedule, audited as
    `schedule.ACTION`; NotFound for an unknown name (audited as failed). Resuming
    clears an auto-pause (`pause_after`) too."""
    if fields.get("enabled") == 1:
        fields["paused_reason"] = None
    with _audited(store, caller, now, f"schedule.{action}", name, {}):
        store.schedules.update(name, now, **fields)


def run_schedule(
    store: Store, config: Config, name: str, caller: Caller, now: datetime
) -> list[int]:
    """Enqueue the schedule's job now, outside its timetable (the queue's backpressure
    applies); an `--on-every-node` schedule's jobs, one per live matching node, spread over
    its stagger from now. Returns the job ids. NotFound (unaudited) for an unknown
    schedule; WrongState (audited as failed) when no node matches."""
    from jobctl.config.schedules import fire_options
    from jobctl.ops.nodes import fire_nodes

    s = store.schedules.get(name)
    guards = {q.name: q.backpressure for q in config.queues if q.backpressure}
    with _audited(store, caller, now, "schedule.run", name, {}) as audit:
        if s.on_every_node:
            nodes = fire_nodes(store, s.queue, s.on_tag, store.now())  # liveness: DB time
            runs = spread_over_nodes(nodes, now, s.stagger)
            if not runs:
                where = f" with tag {s.on_tag!r}" if s.on_tag else ""
                raise WrongState(
                    f"no live, non-draining node{where} serves queue {s.queue!r}: schedule"
                    f" {name!r} runs on every node, so nothing was enqueued"
                )
            options = [
                fire_options(s, r.run_at, request_id=caller.request_id, node=r.node) for r in runs
            ]
        else:
            options = [fire_options(s, request_id=caller.request_id)]
        done = store.jobs.enqueue([build_spec(o, config) for o in options], now, guards)
        ids = [e.id for e in done]
        audit.args["job_id" if len(ids) == 1 else "job_ids"] = ids[0] if len(ids) == 1 else ids
    return ids


def imported_to_demote(store: Store) -> list[Schedule]:
    """Schedules made by `schedule import` that are not pinned to shadow yet: what
    `schedule demote --imported` hands back to cron."""
    return [s for s in store.schedules.list() if s.origin == "import" and s.shadow is not True]


def demote_schedules(
    store: Store, names: Sequence[str], caller: Caller, now: datetime, **args: Any
) -> list[Schedule]:
    """Back to shadow for good (fires recorded, nothing run): the way back to cron. Several
    need their count confirmed; an unknown name is NotFound before anything changes.
    Returns the schedules as they were."""
    names = list(dict.fromkeys(names))
    found = [store.schedules.get(name) for name in names]
    guard = None
    if len(names) > 1:

        def guard() -> None:
            what = f"demote of {len(names)} schedules"
            confirm_name(what, str(len(names)), caller.confirm, caller.prompt, caller.hint)

    target = ",".join(names) if len(names) <= 10 else f"{len(names)} schedules"
    record = {"names": names[:IDS_KEPT], **args, "confirm": caller.confirm}
    with _audited(store, caller, now, "schedule.demote", target, record, guard):
        for name in names:
            store.schedules.update(name, now, shadow=1)
    return found
