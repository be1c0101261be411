"""Run-once: a NAME runs successfully at most once per DB.

A claim is one write transaction on NAME's row. A `running` record whose holder died counts
as failed: its lease expired, or (same host) neither the wrapper nor CMD is alive any more.
Decisions are pure functions of the record, `now` and a liveness probe.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobctl.domain.durations import iso_z
from jobctl.errors import InvalidInput, JobctlError, NotFound
from jobctl.store.repos.once import OnceClaim, OnceRecord

if TYPE_CHECKING:
    from jobctl.store.protocol import Store

LEASE = 30.0  # seconds; renewed every LEASE / 3 while CMD runs
RUNNING, SUCCEEDED, FAILED = "running", "succeeded", "failed"

# (host, pid, pid start ticks) → is that process alive? (None: cannot tell from here)
Alive = Callable[[str | None, int | None, int | None], bool | None]


def never_known(host: str | None, pid: int | None, start: int | None) -> bool | None:
    """A liveness probe that knows nothing: only lease expiry ends a claim."""
    return None


@dataclass(frozen=True)
class Outcome:
    """What `once run` found: `run` (claimed; `record` is the new claim), `done` (succeeded
    before), or `busy` (running elsewhere)."""

    kind: str
    record: OnceRecord | None


def holder_dead(record: OnceRecord, now: datetime, alive: Alive = never_known) -> bool:
    """Whether a `running` record's holder is gone: both the wrapper and CMD are known dead
    (same host), or, when that cannot be told, the lease has expired. A live CMD keeps
    its claim even past the lease (a crashed wrapper's CMD may still be working)."""
    wrapper = alive(record.host, record.pid, record.pid_start)
    cmd = alive(record.host, record.cmd_pid, record.cmd_pid_start) if record.cmd_pid else False
    if wrapper is True or cmd is True:
        return False
    if wrapper is False and cmd is False:
        return True
    expires = record.lease_expires_at
    return expires is None or expires <= now


def effective_state(record: OnceRecord, now: datetime, alive: Alive = never_known) -> str:
    """The state to show and act on: a running record with a dead holder is `failed`."""
    if record.state == RUNNING and holder_dead(record, now, alive):
        return FAILED
    return record.state


def may_claim(record: OnceRecord | None, now: datetime, alive: Alive = never_known) -> bool:
    """A NAME may be claimed when it never ran, or its last run failed (or died)."""
    return record is None or effective_state(record, now, alive) == FAILED


def claim(
    store: Store, name: str, command: list[str], now: datetime, identity: OnceClaim,
    alive: Alive = never_known,
) -> Outcome:  # fmt: skip
    """Try to claim NAME for `command` (identity: holder, actor, host, pid, resumable)."""
    validate_name(name)
    if not command:
        raise InvalidInput("once run: give the command after --")
    claimed, record = store.once.claim(name, identity, lambda r: may_claim(r, now, alive))
    if claimed:
        return Outcome("run", record)
    assert record is not None
    return Outcome("done" if record.state == SUCCEEDED else "busy", record)


def new_claim(
    holder: str, actor: str, host: str, pid: int, pid_start: int | None, command: list[str],
    now: datetime, resumable: bool,
) -> OnceClaim:  # fmt: skip
    """The claim a wrapper makes, with a fresh lease."""
    return OnceClaim(
        holder=holder, actor=actor, host=host, pid=pid, pid_start=pid_start, command=command,
        started_at=now, lease_expires_at=now + timedelta(seconds=LEASE),
        keep_checkpoint=resumable,
    )  # fmt: skip


def validate_name(name: str) -> None:
    if not name or not name.strip() or any(ch in name for ch in "\n\r\0"):
        raise InvalidInput(f"invalid run-once name {name!r}")


def done_message(record: OnceRecord) -> str:
    """The line `once run` prints for a NAME that already succeeded."""
    who = f" by {record.actor}" if record.actor else ""
    where = f" on {record.host}" if record.host else ""
    return (
        f"{record.name}: already done (ran {iso_z(record.finished_at)}{who}{where}); not run again"
    )


def busy_message(record: OnceRecord) -> str:
    return (
        f"{record.name} is running elsewhere (pid {record.pid} on {record.host}, "
        f"since {iso_z(record.started_at)})"
    )


def reset(store: Store, name: str, now: datetime, alive: Alive = never_known) -> OnceRecord:
    """Forget NAME's record so it may run again; a live run cannot be reset."""

    def check(record: OnceRecord) -> None:
        if effective_state(record, now, alive) == RUNNING:
            raise JobctlError(f"once reset: {busy_message(record)}; wait for it to end")

    return store.once.reset(name, check)


def set_checkpoint(store: Store, name: str, value: str) -> None:
    store.once.set_checkpoint(name, value)


def checkpoint(store: Store, name: str) -> str | None:
    return store.once.get(name).checkpoint


# --- once apply ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Script:
    name: str  # the run-once name: DIRNAME/FILENAME
    path: Path


def scripts_in(directory: str) -> list[Script]:
    """The executable regular files of `directory` in name order, each named DIRNAME/FILE.
    A missing or unreadable directory is InvalidInput/NotFound."""
    path = Path(directory)
    if not path.exists():
        raise NotFound(f"once apply: no such directory: {directory}")
    if not path.is_dir():
        raise InvalidInput(f"once apply: not a directory: {directory}")
    try:
        entries = sorted(path.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        raise InvalidInput(f"once apply: cannot read {directory}: {exc.strerror}") from None
    base = path.resolve().name
    return [
        Script(f"{base}/{p.name}", p.resolve())
        for p in entries
        if p.is_file() and os.access(p, os.X_OK) and not p.name.startswith(".")
    ]


def once_shape(record: OnceRecord, now: datetime, alive: Alive = never_known) -> dict[str, Any]:
    """SPEC "JSON shapes": once (plus host, command, runs, signal, log_path, output_tail)."""
    return {
        "name": record.name,
        "state": effective_state(record, now, alive),
        "actor": record.actor,
        "started_at": iso_z(record.started_at),
        "finished_at": iso_z(record.finished_at),
        "exit_code": record.exit_code,
        "checkpoint": record.checkpoint,
        "host": record.host,
        "pid": record.pid,
        "cmd_pid": record.cmd_pid,
        "command": record.command,
        "runs": record.runs,
        "signal": record.signal,
        "log_path": record.log_path,
        "output_tail": record.output_tail,
    }
