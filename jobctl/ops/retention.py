"""jobctl's own history retention (`retention: {succeeded: 7d, dead: 30d, cancelled: ...}`):
jobs in those states that finished longer ago than the age are marked and swept with the
sweep engine (their attempts, dependency rows, DLQ entries and log files go with them).

At most one live retention sweep per state exists (the registry's unique live name), so
several daemons on one DB share the work instead of doubling it. Each mark and each run is
audited as daemon-initiated admin."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from jobctl.clock import Clock
from jobctl.domain import sweep as sw
from jobctl.domain.audit import Actor
from jobctl.domain.durations import iso_z
from jobctl.errors import InvalidInput
from jobctl.ops import audit
from jobctl.ops import sweep as ops
from jobctl.ops.sweep_engine import RunOptions
from jobctl.store.targets import BatchResult, normalize_target, open_target
from jobctl.store.targets.history import HISTORY_TABLE, retention_predicate

if TYPE_CHECKING:
    from jobctl.store.protocol import Store

DAEMON_OPTIONS = RunOptions(batch=200, pause=0.02)  # small batches: dispatch never waits
STALE_MARKING_S = 3600.0  # a retention marking older than this was interrupted
KEEP_FINISHED = 20  # finished retention sweeps kept in the registry, per state


@dataclass(frozen=True)
class Swept:
    state: str
    sweep_id: int
    marked: int
    deleted: int
    skipped: int
    files: int


def sweep_name(state: str) -> str:
    return f"retention-{state}"


def expire_history(
    store: Store,
    db_url: str,
    retention: dict[str, float],
    clock: Clock,
    actor: Actor,
    options: RunOptions = DAEMON_OPTIONS,
    should_stop: Callable[[], bool] | None = None,
) -> list[Swept]:
    """One retention pass over every configured state: resume its live sweep, or mark the
    jobs past their age (if any) and sweep them. Returns what each state's sweep did."""
    url = normalize_target(db_url)
    _drop_stale_markings(store, clock)
    out = []
    for state, age in sorted(retention.items()):
        if should_stop is not None and should_stop():
            break
        sweep = _live(store, state) or _mark(store, url, state, age, clock, actor)
        if sweep is None:
            continue
        files = [0]

        def remove(batch: BatchResult, files: list[int] = files) -> None:
            files[0] += remove_logs(batch.files)

        result = ops.run(store, sweep, options, clock, actor.name, None, should_stop, remove)
        audit.record(
            store, clock.now(), actor, audit.new_request_id(), "sweep.run", result.name,
            {"id": result.id, "kind": sw.RETENTION, "initiated_by": "daemon",
             "marked_by": result.marked_by, "marked": result.marked, "deleted": result.deleted,
             "skipped": result.skipped, "files": files[0], "state": result.state},
        )  # fmt: skip
        out.append(Swept(state, result.id, result.marked, result.deleted, result.skipped, files[0]))
        store.sweeps.forget_finished(sw.RETENTION, sweep_name(state), KEEP_FINISHED)
    return out


def _live(store: Store, state: str) -> sw.Sweep | None:
    live = store.sweeps.list(sw.RETENTION, (sw.MARKED, sw.RUNNING))
    return next((s for s in live if s.name == sweep_name(state)), None)


def _mark(
    store: Store, url: str, state: str, age: float, clock: Clock, actor: Actor
) -> sw.Sweep | None:
    now = clock.now()
    cutoff = now - timedelta(seconds=age)
    predicate = retention_predicate(state, cutoff.timestamp())
    target = open_target(url, history=True)
    try:
        ref = target.resolve_table(HISTORY_TABLE)
        if target.count_matching(ref, predicate) == 0:
            return None
    finally:
        target.close()
    request = ops.MarkRequest(url, HISTORY_TABLE, predicate, sweep_name(state), 0.0, sw.RETENTION)
    try:
        sweep = ops.mark(store, request, now, actor.name)
    except InvalidInput:  # another daemon marked it a moment ago
        return None
    audit.record(
        store, now, actor, audit.new_request_id(), "sweep.mark", sweep.name,
        {"id": sweep.id, "kind": sw.RETENTION, "initiated_by": "daemon", "state": state,
         "finished_before": iso_z(cutoff), "marked": sweep.marked},
    )  # fmt: skip
    return sweep


def _drop_stale_markings(store: Store, clock: Clock) -> None:
    limit = clock.now() - timedelta(seconds=STALE_MARKING_S)
    for s in store.sweeps.list(sw.RETENTION, (sw.MARKING,)):
        if s.marked_at < limit:
            ops.unmark(store, s, clock.now())


def remove_logs(paths: tuple[str, ...]) -> int:
    """Delete the log files of swept attempts (and their rotated halves); the count removed."""
    removed = 0
    for path in paths:
        for name in (path, path + ".1"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)
                removed += 1
    return removed
