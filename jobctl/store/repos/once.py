"""Run-once records: one row per NAME; the claim is one write transaction."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jobctl.domain.durations import from_epoch
from jobctl.errors import NotFound
from jobctl.store.database import Database
from jobctl.store.records import loads


@dataclass(frozen=True)
class OnceRecord:
    name: str
    state: str  # running | succeeded | failed
    holder: str | None = None
    actor: str | None = None
    host: str | None = None
    pid: int | None = None
    pid_start: int | None = None
    cmd_pid: int | None = None
    cmd_pid_start: int | None = None
    command: list[str] | None = None
    runs: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    lease_expires_at: datetime | None = None
    exit_code: int | None = None
    signal: int | None = None
    checkpoint: str | None = None
    output_tail: str | None = None
    log_path: str | None = None


@dataclass(frozen=True)
class OnceClaim:
    """Who claims a NAME, to run what, with a lease until `lease_expires_at`."""

    holder: str
    actor: str
    host: str
    pid: int
    pid_start: int | None
    command: list[str]
    started_at: datetime
    lease_expires_at: datetime
    keep_checkpoint: bool  # --resumable: the last checkpoint carries over


def _record(row: Any) -> OnceRecord:
    return OnceRecord(
        name=row["name"],
        state=row["state"],
        holder=row["holder"],
        actor=row["actor"],
        host=row["host"],
        pid=row["pid"],
        pid_start=row["pid_start"],
        cmd_pid=row["cmd_pid"],
        cmd_pid_start=row["cmd_pid_start"],
        command=loads(row["command"]),
        runs=row["runs"],
        started_at=from_epoch(row["started_at"]),
        finished_at=from_epoch(row["finished_at"]),
        lease_expires_at=from_epoch(row["lease_expires_at"]),
        exit_code=row["exit_code"],
        signal=row["signal"],
        checkpoint=row["checkpoint"],
        output_tail=row["output_tail"],
        log_path=row["log_path"],
    )


class OnceRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    def claim(
        self, name: str, claim: OnceClaim, may_claim: Callable[[OnceRecord | None], bool]
    ) -> tuple[bool, OnceRecord | None]:
        """In one write transaction: read NAME's record, ask `may_claim`, and if it says yes
        make the record `running` under `claim`. Returns (claimed, the record as it now is)."""
        with self.db.write() as conn:
            # Two claims of a new name both read "no record": without this, on PostgreSQL the
            # second's INSERT waits for the first and then takes the row over (both run CMD).
            conn.serialise(f"once:{name}")
            row = conn.execute("SELECT * FROM once_runs WHERE name = ?", (name,)).fetchone()
            current = None if row is None else _record(row)
            if not may_claim(current):
                return False, current
            checkpoint = current.checkpoint if current and claim.keep_checkpoint else None
            row = conn.execute(
                "INSERT INTO once_runs (name, state, holder, actor, host, pid, pid_start,"
                " command, runs, started_at, lease_expires_at, checkpoint)"
                " VALUES (?, 'running', ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET state = 'running', holder = excluded.holder,"
                " actor = excluded.actor, host = excluded.host, pid = excluded.pid,"
                " pid_start = excluded.pid_start, cmd_pid = NULL, cmd_pid_start = NULL,"
                " command = excluded.command, runs = once_runs.runs + 1,"
                " started_at = excluded.started_at,"
                " finished_at = NULL, lease_expires_at = excluded.lease_expires_at,"
                " exit_code = NULL, signal = NULL, checkpoint = excluded.checkpoint,"
                " output_tail = NULL, log_path = NULL RETURNING *",
                (
                    name, claim.holder, claim.actor, claim.host, claim.pid, claim.pid_start,
                    json.dumps(claim.command), claim.started_at.timestamp(),
                    claim.lease_expires_at.timestamp(), checkpoint,
                ),
            ).fetchone()  # fmt: skip
        return True, _record(row)

    def started(self, name: str, holder: str, cmd_pid: int, cmd_pid_start: int | None) -> None:
        """Record CMD's process, so that a crashed wrapper's CMD is still seen running."""
        with self.db.write() as conn:
            conn.execute(
                "UPDATE once_runs SET cmd_pid = ?, cmd_pid_start = ? WHERE name = ? AND holder = ?",
                (cmd_pid, cmd_pid_start, name, holder),
            )

    def renew(self, name: str, holder: str, until: datetime) -> bool:
        """Extend the running claim's lease; False when `holder` no longer holds NAME."""
        with self.db.write() as conn:
            return bool(
                conn.execute(
                    "UPDATE once_runs SET lease_expires_at = ?"
                    " WHERE name = ? AND holder = ? AND state = 'running'",
                    (until.timestamp(), name, holder),
                ).rowcount
            )

    def finish(
        self,
        name: str,
        holder: str,
        now: datetime,
        exit_code: int | None,
        signal: int | None,
        output_tail: str | None,
        log_path: str | None,
    ) -> bool:
        """End the claim: succeeded on exit code 0, else failed. False if not held."""
        state = "succeeded" if exit_code == 0 else "failed"
        with self.db.write() as conn:
            return bool(
                conn.execute(
                    "UPDATE once_runs SET state = ?, finished_at = ?, exit_code = ?, signal = ?,"
                    " output_tail = ?, log_path = ?, lease_expires_at = NULL"
                    " WHERE name = ? AND holder = ? AND state = 'running'",
                    (state, now.timestamp(), exit_code, signal, output_tail, log_path, name,
                     holder),
                ).rowcount
            )  # fmt: skip

    def get(self, name: str) -> OnceRecord:
        found = self.find(name)
        if found is None:
            raise NotFound(f"no run-once record named {name!r}")
        return found

    def find(self, name: str) -> OnceRecord | None:
        with self.db.read() as conn:
            row = conn.execute("SELECT * FROM once_runs WHERE name = ?", (name,)).fetchone()
        return None if row is None else _record(row)

    def list(self) -> list[OnceRecord]:
        with self.db.read() as conn:
            rows = conn.execute("SELECT * FROM once_runs ORDER BY name").fetchall()
        return [_record(r) for r in rows]

    def reset(self, name: str, may_reset: Callable[[OnceRecord], None]) -> OnceRecord:
        """Delete NAME's record (it may run again) after `may_reset` accepted it (it raises
        to refuse), in one transaction. NotFound when there is none."""
        with self.db.write() as conn:
            row = conn.execute("SELECT * FROM once_runs WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise NotFound(f"no run-once record named {name!r}")
            record = _record(row)
            may_reset(record)
            conn.execute("DELETE FROM once_runs WHERE name = ?", (name,))
        return record

    def set_checkpoint(self, name: str, value: str) -> None:
        with self.db.write() as conn:
            if not conn.execute(
                "UPDATE once_runs SET checkpoint = ? WHERE name = ?", (value, name)
            ).rowcount:
                raise NotFound(f"no run-once record named {name!r}")
