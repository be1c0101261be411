"""`jobctl explain ID`: why a job is not running right now, in one sentence plus the facts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jobctl.config.model import Config
from jobctl.domain.durations import iso_z
from jobctl.domain.job import Job, State
from jobctl.domain.placement import Placement
from jobctl.domain.queues import RateLimit

if TYPE_CHECKING:
    from jobctl.store.protocol import Store
    from jobctl.store.repos.daemons import DaemonInfo


@dataclass(frozen=True)
class Explanation:
    """`facts` hold typed values (times are datetimes): each output renders them its way."""

    id: int
    state: str
    reason: str
    facts: dict[str, Any]


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    local = moment.astimezone()
    return f"{iso_z(moment)} ({local.strftime('%H:%M:%S %Z')} local)"


def explain(store: Store, config: Config, job_id: int, now: datetime) -> Explanation:
    job = store.jobs.get(job_id)
    state = job.display_state(now)
    facts: dict[str, Any] = {
        "queue": job.queue,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
    }
    reason = _reason(store, config, job, now, facts)
    return Explanation(job.id, state, reason, facts)


def _reason(store: Store, config: Config, job: Job, now: datetime, facts: dict[str, Any]) -> str:
    if job.state in (State.SUCCEEDED, State.DEAD, State.CANCELLED):
        facts["finished_at"] = job.finished_at
        if job.error:
            facts["error"] = job.error
        return f"It is {job.state.value}: it finished at {_when(job.finished_at)}."
    if job.state is State.RUNNING:
        facts.update(
            runner=job.lease_owner,
            started_at=job.started_at,
            lease_expires_at=job.lease_expires_at,
        )
        return f"It is running (attempt {job.attempts}) since {_when(job.started_at)}."
    if job.state is State.WAITING:
        pending = [(i, s) for i, s in store.stats.dependency_states(job.id) if s != "succeeded"]
        facts["waiting_on"] = [{"id": i, "state": s} for i, s in pending]
        names = ", ".join(f"job {i} ({s})" for i, s in pending) or "its dependencies"
        return f"It is waiting on {names}."
    if job.run_at > now:
        facts["run_at"] = job.run_at
        if job.state is State.RETRYING:
            facts["last_error"] = job.error
            return f"It is retrying at {_when(job.run_at)} after attempt {job.attempts} failed."
        return f"It is not due until {_when(job.run_at)}."
    return _ready_but_blocked(store, config, job, now, facts)


def _rate_limited(
    store: Store, job: Job, rate: RateLimit, now: datetime, facts: dict[str, Any]
) -> str | None:
    """The reason when the job's rate-limit bucket has no claim left in its window."""
    used, free_at = store.dispatch.rate_window(job.queue, job.tenant, rate, now)
    facts.update(rate_limit=str(rate), claims_in_window=used, window_seconds=rate.per)
    if rate.per_tenant:
        facts["tenant"] = job.tenant
    if used < rate.limit:
        return None
    facts["next_claim_at"] = free_at
    who = f"tenant {job.tenant!r}" if job.tenant else "jobs without a tenant"
    if rate.per_tenant:
        return (
            f"Tenant rate-limited: {who} used {used} of {rate} in queue {job.queue!r};"
            f" the next claim is free at {_when(free_at)}."
        )
    return (
        f"Queue rate-limited: {job.queue!r} used {used} of {rate};"
        f" the next claim is free at {_when(free_at)}."
    )


def _ready_but_blocked(
    store: Store, config: Config, job: Job, now: datetime, facts: dict[str, Any]
) -> str:
    facts["due_since"] = job.run_at
    if job.queue in store.queues.paused():
        facts["paused"] = True
        return f"Queue {job.queue!r} is paused (jobctl queue resume {job.queue})."
    if job.ordering_key:
        head = store.stats.ordering_head(job.ordering_key)
        if head and head[0] != job.id:
            facts["ordering_key_held_by"] = head[0]
            return f"Ordering key {job.ordering_key!r} is held by job {head[0]} ({head[1]})."
    queue_config = config.queue(job.queue)
    if queue_config and queue_config.concurrency:
        running = store.stats.running_in_queue(job.queue)
        facts.update(running=running, concurrency=queue_config.concurrency)
        if running >= queue_config.concurrency:
            return (
                f"Queue {job.queue!r} is at its concurrency limit "
                f"({running}/{queue_config.concurrency} running)."
            )
    rate = queue_config.rate if queue_config else None
    if rate is not None:
        blocked = _rate_limited(store, job, rate, now, facts)
        if blocked:
            return blocked
    daemons = store.daemons.live(now)
    serving = [d for d in daemons if d.queues is None or job.queue in d.queues]
    facts["daemons"] = [f"{d.node}/{d.pid}" for d in serving]
    if not serving:
        return f"No live daemon serves queue {job.queue!r}: start one with `jobctl daemon`."
    blocked = _placement_blocked(store, job, serving, now, facts)
    if blocked:
        return blocked
    if job.gang_id is not None:
        return _gang_waits(store, job, now, facts)
    return "It is ready and should start within moments (daemons are busy or about to claim it)."


def _gang_waits(store: Store, job: Job, now: datetime, facts: dict[str, Any]) -> str:
    """Why a gang member waits: the live nodes cannot hold the gang, or not all of its
    members have a slot reserved yet (they start together)."""
    gang = store.gangs.get(job.gang_id or 0, now)
    where = Placement(job.on_node, job.on_tag)
    room = store.gangs.capacity(now, where)
    size = job.gang_size or 0
    facts.update(gang=job.gang_id, gang_size=size, capacity=room.slots, live_nodes=room.nodes)
    if room.slots < size:
        return (
            f"Gang {job.gang_id} needs {size} slots at once; the live nodes"
            f"{'' if not where else f' ({where.describe()})'} have {room.slots} in all:"
            " it waits for more nodes (start daemons, or `jobctl node resume`)."
        )
    reserved = gang.reserved if gang is not None else 0
    facts["reserved"] = reserved
    return (
        f"Gang {job.gang_id} waits for {size} free slots at once: {reserved} reserved so far;"
        " its members start together when every one has a slot."
    )


def _placement_blocked(
    store: Store, job: Job, serving: list[DaemonInfo], now: datetime, facts: dict[str, Any]
) -> str | None:
    """The reason when no live daemon serving the queue may claim the job: none matches its
    placement (`--on-node`, `--on-tag`), or every one that does is on a draining node."""
    where = Placement(job.on_node, job.on_tag)
    nodes = {n.name: n for n in store.nodes.list(now)}
    matching = [
        d for d in serving if where.matches(d.node, nodes[d.node].tags if d.node in nodes else ())
    ]
    if where:
        facts.update(on_node=job.on_node, on_tag=job.on_tag)
        facts["matching_daemons"] = [f"{d.node}/{d.pid}" for d in matching]
    if not matching:
        hint = f"--node {job.on_node}" if job.on_node else f"--tag {job.on_tag}"
        return (
            f"No live daemon matches its placement ({where.describe()}): start one with"
            f" `jobctl daemon {hint}`."
        )
    draining = sorted({d.node for d in matching if d.node in nodes and nodes[d.node].draining})
    if len(draining) == len({d.node for d in matching}):
        facts["draining_nodes"] = draining
        names = ", ".join(draining)
        return (
            f"Every live daemon that may run it is on a draining node ({names}):"
            f" `jobctl node resume {draining[0]}`."
        )
    return None
