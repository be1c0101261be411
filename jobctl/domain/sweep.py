"""Sweeps (SPEC "Mark-then-sweep deletes"): a named set of marked rows of one table, deleted
in batches after a grace period. States: marking → marked → running → done | unmarked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

MARKING = "marking"  # keys are being recorded (not yet runnable)
MARKED = "marked"
RUNNING = "running"  # started; an interrupted run stays here until resumed
DONE = "done"
UNMARKED = "unmarked"
LIVE_STATES = (MARKING, MARKED, RUNNING)

USER = "user"
RETENTION = "retention"


@dataclass(frozen=True)
class Sweep:
    id: int
    name: str
    target: str  # the target DB's URL (a password, if any, is kept; shown redacted)
    table: str
    predicate: str
    state: str
    marked: int
    deleted: int
    skipped: int
    done: int  # marked rows processed so far (the progress cursor)
    grace_until: datetime
    marked_at: datetime
    marked_by: str
    token: str  # names this sweep's marks inside the target DB
    keys: tuple[str, ...]  # the key columns recorded (the primary key, or rowid)
    schema: str | None = None  # the table's schema (PostgreSQL)
    kind: str = USER
    run_by: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def remaining(self) -> int:
        return max(self.marked - self.done, 0)


@dataclass(frozen=True)
class Progress:
    """Where a run stands, reported after every batch."""

    marked: int
    done: int
    deleted: int
    skipped: int
    batch: int  # the batch size now in use (it shrinks when a batch runs long)


def default_name(sweep_id: int) -> str:
    """The name of a sweep marked without `--name`."""
    return f"sweep-{sweep_id}"
