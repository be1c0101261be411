"""jobctl's own DB as a sweep target, for history retention: the `jobs` table, with each
batch also removing the DLQ entries of the jobs it deleted (attempts, dependencies and kept
output go by ON DELETE CASCADE) and reporting their log files for removal after the commit.
On SQLite the file itself; on PostgreSQL the `jobs` table of jobctl's schema."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from jobctl.store.targets import Plan
from jobctl.store.targets.sqlite import SQLiteTarget

HISTORY_TABLE = "jobs"
RETAINED_STATES = ("succeeded", "dead", "cancelled")
_MARKED = "SELECT k0 FROM _jobctl_sweep_marks WHERE sweep = ? AND seq > ? AND seq <= ?"


def retention_predicate(state: str, cutoff: float) -> str:
    """The predicate of a retention sweep: jobs in `state` finished before `cutoff`
    (epoch seconds). Only the known states and a number ever reach the SQL."""
    if state not in RETAINED_STATES:
        raise ValueError(f"not a retained state: {state!r}")
    return f"state = '{state}' AND finished_at < {float(cutoff)!r}"


# A gang's row goes with the last of its members (its id is rank 0's, at most the highest
# job id deleted).
GONE_GANGS = (
    "DELETE FROM gangs WHERE id <= ? AND state NOT IN ('waiting', 'running', 'stopping')"
    " AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.gang_id = gangs.id)"
)


class HistoryTarget(SQLiteTarget):
    def __init__(self, path: Path) -> None:
        super().__init__(path, foreign_keys=True, statement_timeout=None)

    def _before_delete(
        self, conn: sqlite3.Connection, plan: Plan, span: tuple[str, int, int]
    ) -> Any:
        rows = conn.execute(
            f"SELECT job_id, log_path FROM attempts WHERE log_path IS NOT NULL"
            f" AND job_id IN ({_MARKED})",
            span,
        ).fetchall()
        return rows

    def _after_delete(
        self, conn: sqlite3.Connection, plan: Plan, span: tuple[str, int, int], collected: Any
    ) -> tuple[str, ...]:
        gone = {
            r[0]
            for r in conn.execute(
                f"SELECT k0 FROM _jobctl_sweep_marks WHERE sweep = ? AND seq > ? AND seq <= ?"
                f" AND k0 NOT IN (SELECT id FROM jobs WHERE id IN ({_MARKED}))",
                span + span,
            ).fetchall()
        }
        if gone:
            conn.execute(
                f"DELETE FROM dlq WHERE job_id IN ({_MARKED})"
                f" AND job_id NOT IN (SELECT id FROM jobs WHERE id IN ({_MARKED}))",
                span + span,
            )
            conn.execute(GONE_GANGS, (max(gone),))
        return tuple(path for job_id, path in collected if job_id in gone)
