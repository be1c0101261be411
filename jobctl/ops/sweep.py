"""Mark-then-sweep deletes (SPEC "Ops toolkit"): mark the keys of the rows a predicate
matches now, keep them through a grace period, then delete them in short batches.

The registry (jobctl's DB) names each sweep; the marks and the authoritative progress
cursor live inside the target DB (see jobctl.store.targets).
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from jobctl.clock import Clock
from jobctl.domain import sweep as sw
from jobctl.domain.digits import parse_digits
from jobctl.domain.durations import iso_z
from jobctl.errors import InvalidInput, JobctlError, Refused
from jobctl.ops.sweep_engine import RunOptions, sweep_marked
from jobctl.store.repos.sweeps import NewSweep
from jobctl.store.targets import (
    STATEMENT_TIMEOUT,
    BatchResult,
    Plan,
    TableRef,
    Target,
    TargetProgress,
    normalize_target,
    open_target,
    redact_url,
)

if TYPE_CHECKING:
    from jobctl.store.protocol import Store

MARK_CHUNK = 5000  # keys read and recorded per transaction while marking
SYNC_EVERY_S = 1.0  # how often a run mirrors its progress into the registry


@dataclass(frozen=True)
class MarkRequest:
    target: str
    table: str
    where: str
    name: str | None = None
    grace: float = 86400.0
    kind: str = sw.USER
    timeout: float = STATEMENT_TIMEOUT  # seconds per statement evaluating the predicate

    def __post_init__(self) -> None:
        if not self.timeout > 0:
            raise InvalidInput(f"invalid --timeout {self.timeout:g}s: more than 0s")


@dataclass(frozen=True)
class Preview:
    target: str
    table: str
    predicate: str
    count: int
    sample: list[dict[str, Any]]


def sweep_shape(s: sw.Sweep) -> dict[str, Any]:
    """SPEC "JSON shapes" sweep, plus who/when and the progress cursor."""
    return {
        "id": s.id,
        "name": s.name,
        "target": redact_url(s.target),
        "table": s.table,
        "predicate": s.predicate,
        "marked": s.marked,
        "deleted": s.deleted,
        "skipped": s.skipped,
        "state": s.state,
        "grace_until": iso_z(s.grace_until),
        "kind": s.kind,
        "done": s.done,
        "remaining": s.remaining,
        "keys": list(s.keys),
        "marked_at": iso_z(s.marked_at),
        "marked_by": s.marked_by,
        "run_by": s.run_by,
        "started_at": iso_z(s.started_at),
        "finished_at": iso_z(s.finished_at),
    }


def _check_name(name: str | None) -> None:
    if name is None:
        return
    if not name.strip() or name != name.strip() or len(name) > 100 or not name.isprintable():
        raise InvalidInput(f"invalid --name {name!r}: 1-100 printable characters, no padding")
    if parse_digits(name) is not None:
        raise InvalidInput(f"invalid --name {name!r}: a name must not be a number (ids are)")


def _resolve(target: Target, table: str, where: str) -> tuple[TableRef, str]:
    ref = target.resolve_table(table)
    return ref, target.check_predicate(ref, where)


def preview(request: MarkRequest, sample: int = 5) -> Preview:
    """What `mark` would record (`--dry-run`): the count and a few rows; writes nothing."""
    url = normalize_target(request.target)
    target = open_target(url, statement_timeout=request.timeout)
    try:
        ref, predicate = _resolve(target, request.table, request.where)
        return Preview(
            redact_url(url),
            request.table,
            predicate,
            target.count_matching(ref, predicate),
            target.sample_matching(ref, predicate, sample),
        )
    finally:
        target.close()


def mark(
    store: Store, request: MarkRequest, now: datetime, actor: str, chunk: int = MARK_CHUNK
) -> sw.Sweep:
    """Validate the target, table and predicate, then register the sweep and record the
    keys of every matching row in the target (in chunks; memory stays flat). Nothing is
    registered when validation fails; a failed marking leaves nothing behind, also when a
    statement ran past `request.timeout` (PredicateTimeout)."""
    _check_name(request.name)
    if request.grace < 0:
        raise InvalidInput(f"invalid --grace {request.grace}: must not be negative")
    url = normalize_target(request.target)
    target = open_target(
        url, history=request.kind == sw.RETENTION, statement_timeout=request.timeout
    )
    try:
        ref, predicate = _resolve(target, request.table, request.where)
        new = NewSweep(
            name=request.name,
            kind=request.kind,
            target=url,
            table=request.table,
            schema=ref.schema,
            keys=ref.keys,
            predicate=predicate,
            token=secrets.token_hex(8),
            marked_by=actor,
            grace_until=now + timedelta(seconds=request.grace),
        )
        sweep = store.sweeps.create(new, now)
        plan = Plan(sweep.token, ref, predicate)
        try:
            target.begin_marks(plan)
            total = _record_marks(target, plan, chunk)
        except BaseException:
            with contextlib.suppress(JobctlError):
                target.drop_marks(plan)
            store.sweeps.delete(sweep.id)
            raise
        return store.sweeps.finish_marking(sweep.id, total)
    finally:
        target.close()


def _record_marks(target: Target, plan: Plan, chunk: int) -> int:
    total, after = 0, None
    while True:
        keys = target.key_chunk(plan.table, plan.predicate, after, chunk)
        if not keys:
            return total
        target.append_marks(plan, total + 1, keys)
        total += len(keys)
        after = keys[-1]


def find(store: Store, ref: str) -> sw.Sweep:
    """A sweep by id or name; NotFound otherwise."""
    return store.sweeps.find(ref)


def list_sweeps(store: Store) -> list[sw.Sweep]:
    return store.sweeps.list()


def _plan(target: Target, sweep: sw.Sweep) -> Plan:
    ref = target.resolve_table(sweep.table)
    if ref.keys != sweep.keys:
        raise Refused(
            f"sweep {sweep.id}: the key of table {sweep.table!r} changed since marking"
            f" ({', '.join(sweep.keys)} → {', '.join(ref.keys)}); unmark it and mark again"
        )
    return Plan(sweep.token, ref, target.check_predicate(ref, sweep.predicate))


def unmark(store: Store, sweep: sw.Sweep, now: datetime) -> sw.Sweep:
    """Rollback: forget the marks (the rows stay); the sweep becomes `unmarked`."""
    if sweep.state == sw.DONE:
        raise Refused(f"sweep {sweep.id} ({sweep.name}) is done; there are no marks to forget")
    if sweep.state == sw.UNMARKED:
        return sweep
    target = open_target(sweep.target)
    try:
        target.drop_marks(Plan(sweep.token, TableRef(sweep.table, sweep.schema, sweep.keys), ""))
    finally:
        target.close()
    store.sweeps.set_unmarked(sweep.id, now)
    return store.sweeps.get(sweep.id)


def check_run(sweep: sw.Sweep, now: datetime, early: bool) -> None:
    """The run rule: a live, fully marked sweep whose grace period is over (or `early`)."""
    if sweep.state == sw.UNMARKED:
        raise Refused(f"sweep {sweep.id} ({sweep.name}) was unmarked; nothing to run")
    if sweep.state == sw.MARKING:
        raise Refused(
            f"sweep {sweep.id} ({sweep.name}) is not fully marked (marking was interrupted?):"
            " unmark it and mark again"
        )
    if sweep.state in (sw.MARKED, sw.RUNNING) and now < sweep.grace_until and not early:
        raise Refused(
            f"sweep {sweep.id} ({sweep.name}): the grace period lasts until"
            f" {iso_z(sweep.grace_until)}; add --now to sweep earlier"
        )


def run(
    store: Store,
    sweep: sw.Sweep,
    options: RunOptions,
    clock: Clock,
    run_by: str,
    on_progress: Callable[[sw.Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_batch: Callable[[BatchResult], None] | None = None,
) -> sw.Sweep:
    """Delete the marked rows that still match, from where the last run stopped. The
    registry mirrors the target's progress every second and at the end (also when
    interrupted); the sweep is `done` once every marked row is processed."""
    if sweep.state == sw.DONE:
        return sweep
    target = open_target(sweep.target, history=sweep.kind == sw.RETENTION)
    try:
        plan = _plan(target, sweep)
        state = target.progress(plan)
        if state is None:
            return _marks_gone(store, sweep, clock)
        store.sweeps.start_run(sweep.id, run_by, clock.now())
        last_sync = [clock.monotonic()]

        def progress(p: sw.Progress) -> None:
            if clock.monotonic() - last_sync[0] >= SYNC_EVERY_S:
                store.sweeps.save_progress(sweep.id, p.done, p.deleted, p.skipped, None)
                last_sync[0] = clock.monotonic()
            if on_progress is not None:
                on_progress(p)

        final = state
        try:
            final = sweep_marked(target, plan, options, clock, progress, should_stop, on_batch)
        finally:
            now_state = target.progress(plan) or final
            _save(store, sweep.id, now_state, clock)
        if final.done >= final.marked:
            target.drop_marks(plan)
    finally:
        target.close()
    return store.sweeps.get(sweep.id)


def _save(store: Store, sweep_id: int, p: TargetProgress, clock: Clock) -> None:
    finished = clock.now() if p.done >= p.marked else None
    store.sweeps.save_progress(sweep_id, p.done, p.deleted, p.skipped, finished)


def _marks_gone(store: Store, sweep: sw.Sweep, clock: Clock) -> sw.Sweep:
    """The target holds no progress row: a run finished (and cleaned up) before the
    registry heard of it, or someone dropped the side tables."""
    if sweep.done >= sweep.marked:
        store.sweeps.save_progress(sweep.id, sweep.done, sweep.deleted, sweep.skipped, clock.now())
        return store.sweeps.get(sweep.id)
    raise Refused(
        f"sweep {sweep.id} ({sweep.name}): its marks are gone from {redact_url(sweep.target)};"
        " unmark it"
    )
