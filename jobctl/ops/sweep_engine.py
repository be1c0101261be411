"""The sweep engine: delete a sweep's marked rows batch by batch until done, interrupted,
told to stop, or `max_rows` is reached. Each batch is one short transaction in the target
that also moves the target's progress cursor, so any interruption resumes exactly there;
the pause between batches lets other writers in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from jobctl.clock import Clock
from jobctl.domain.sweep import Progress
from jobctl.errors import StoreError
from jobctl.store.targets import BatchResult, Plan, Target, TargetProgress


@dataclass(frozen=True)
class RunOptions:
    batch: int = 500
    pause: float = 0.05  # seconds between batches
    max_rows: int | None = None  # stop after processing this many marked rows (resumable)


def sweep_marked(
    target: Target,
    plan: Plan,
    options: RunOptions,
    clock: Clock,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_batch: Callable[[BatchResult], None] | None = None,
) -> TargetProgress:
    """Run batches from the target's cursor; return the target's progress at the end."""
    state = target.progress(plan)
    if state is None:
        raise StoreError(f"the marks of this sweep are gone from {target.display}")
    batch, processed = max(1, options.batch), 0
    deleted, skipped, done = state.deleted, state.skipped, state.done
    while done < state.marked:
        if should_stop is not None and should_stop():
            break
        limit = batch
        if options.max_rows is not None:
            limit = min(limit, options.max_rows - processed)
            if limit <= 0:
                break
        result = target.sweep_batch(plan, limit)
        if result.done <= done and result.deleted == 0 and result.skipped == 0:
            break  # another runner finished it
        processed += result.deleted + result.skipped
        done, deleted, skipped = result.done, deleted + result.deleted, skipped + result.skipped
        if on_batch is not None:
            on_batch(result)
        if on_progress is not None:
            on_progress(Progress(state.marked, done, deleted, skipped, batch))
        if done < state.marked and options.pause > 0:
            clock.sleep(options.pause)
    final = target.progress(plan)  # None: another runner finished and cleaned up
    return final or TargetProgress(state.marked, state.marked, deleted, skipped)
