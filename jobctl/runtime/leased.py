"""`once run` and `lock`: claim (or wait for) a name, run CMD under a renewed lease with
run_wrapped, then record how it ended and let go of the name."""

from __future__ import annotations

import math
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from jobctl.clock import Clock
from jobctl.errors import JobctlError
from jobctl.runtime.proctree import process_start_ticks, read_stat
from jobctl.runtime.wrapped import Lease, Wrapped, run_wrapped

if TYPE_CHECKING:
    from jobctl.store.protocol import Store


if TYPE_CHECKING:  # each command loads only its own half
    from jobctl.store.repos.locks import LockInfo
    from jobctl.store.repos.once import OnceRecord

POLL = 0.05  # seconds between cheap looks (the store's change feed) while waiting for a name
RECHECK = 1.0  # look again at least this often (a dead holder changes nothing in the DB)

Note = Callable[[str], None]


def alive_here(host: str | None, pid: int | None, start: int | None) -> bool | None:
    """Liveness of a process recorded on `host`: known only on this host (None elsewhere)."""
    if host != socket.gethostname():
        return None
    if not pid:
        return False
    info = read_stat(pid)
    return info is not None and info.live and (not start or info.start == start)


def _waiting(store: Store, clock: Clock, deadline: float, until: float | None = None) -> bool:
    """Sleep until the DB changes, RECHECK passes, `until` (monotonic) comes or the deadline
    passes; False once the deadline has passed."""
    feed = store.changes()
    feed.changed()
    stop = min(deadline, clock.monotonic() + RECHECK, until if until is not None else math.inf)
    while clock.monotonic() < stop:
        clock.sleep(min(POLL, max(0.0, stop - clock.monotonic())))
        if feed.changed():
            break
    return clock.monotonic() < deadline


# --- once ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class OnceResult:
    """`ran` (exit_code is the wrapper's), `done` (succeeded before) or `busy`."""

    kind: str
    record: OnceRecord
    exit_code: int = 0


def run_once(
    store: Store, db_url: str, name: str, argv: list[str], clock: Clock, log_dir: Path,
    actor: str, resumable: bool = False, wait: float | None = None, note: Note | None = None,
) -> OnceResult:  # fmt: skip
    """Run `argv` as NAME unless it already succeeded; with `wait` (seconds, inf: forever)
    wait out a run elsewhere, then report done or run it (the other one failed)."""
    from jobctl.ops import once as once_ops

    holder = uuid.uuid4().hex
    deadline = clock.monotonic() + (wait if wait is not None else 0.0)
    while True:
        identity = once_ops.new_claim(
            holder, actor, socket.gethostname(), os.getpid(), process_start_ticks(os.getpid()),
            argv, clock.now(), resumable,
        )  # fmt: skip
        outcome = once_ops.claim(store, name, argv, clock.now(), identity, alive_here)
        assert outcome.record is not None
        if outcome.kind != "busy":
            break
        if wait is None or not _waiting(store, clock, deadline):
            return OnceResult("busy", outcome.record)
    if outcome.kind == "done":
        return OnceResult("done", outcome.record)
    return _run_claimed(store, db_url, outcome.record, argv, clock, log_dir, note)


def _run_claimed(
    store: Store, db_url: str, record: OnceRecord, argv: list[str], clock: Clock,
    log_dir: Path, note: Note | None,
) -> OnceResult:  # fmt: skip
    from jobctl.ops import once as once_ops

    name, holder = record.name, record.holder
    assert holder is not None
    env = {**os.environ, "JOBCTL_ONCE": name, "JOBCTL_DB": db_url}
    env.pop("JOBCTL_CHECKPOINT", None)
    if record.checkpoint is not None:
        env["JOBCTL_CHECKPOINT"] = record.checkpoint
    log_path = log_dir / "once" / f"{quote(name, safe='')}.{record.runs}.log"

    def renew() -> bool:
        return _renewed(
            lambda: store.once.renew(name, holder, clock.now() + timedelta(seconds=once_ops.LEASE)),
            name,
            note,
        )

    def record_start(pid: int, start: int | None) -> None:
        def started() -> bool:
            store.once.started(name, holder, pid, start)
            return True

        _renewed(started, name, note)

    result: Wrapped | None = None
    try:
        result = run_wrapped(
            argv, env, clock, Lease(renew, once_ops.LEASE / 3), log_path, on_start=record_start
        )
    finally:
        tail = _tail(result) if result is not None else "[jobctl: the wrapper failed]\n"
        store.once.finish(
            name, holder, clock.now(),
            result.wrapper_code if result is not None else None,
            result.signal if result is not None else None,
            tail, str(result.log_path) if result is not None and result.log_path else None,
        )  # fmt: skip
    if result.spawn_error and note is not None:
        note(f"jobctl: once run {name}: {result.spawn_error}")
    return OnceResult("ran", store.once.get(name), result.wrapper_code)


def _tail(result: Wrapped) -> str | None:
    """The output tail to store: None when CMD printed nothing."""
    if result.spawn_error is not None:
        return f"[jobctl: spawn failed: {result.spawn_error}]\n"
    return result.output_tail.decode("utf-8", errors="replace") or None


def _renewed(renew: Callable[[], bool], name: str, note: Note | None) -> bool:
    """Run one renewal (or the record of CMD's pid); a busy DB or a lost lease is reported,
    never fatal to CMD."""
    try:
        ok = renew()
    except JobctlError as exc:
        if note is not None:
            note(f"jobctl: {name}: lease renewal failed ({exc}); retrying")
        return True
    if not ok and note is not None:
        note(f"jobctl: {name}: the lease was taken away (released or expired) while CMD runs")
    return ok


# --- lock ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class LockResult:
    """`ran` (exit_code is the wrapper's) or `busy` (lock: the holder's)."""

    kind: str
    lock: LockInfo
    exit_code: int = 0


def run_locked(
    store: Store, name: str, argv: list[str], clock: Clock, ttl: float, holder: str,
    wait: float | None = None, note: Note | None = None,
) -> LockResult:  # fmt: skip
    """Run `argv` holding lock NAME (lease `ttl`, renewed every ttl/3, released at the end);
    with `wait` poll until it is free or `wait` seconds pass."""
    from jobctl.ops import locks as lock_ops

    lock_ops.validate(name, ttl)
    holder_id = uuid.uuid4().hex
    deadline = clock.monotonic() + (wait or 0.0)
    while True:
        got = lock_ops.acquire(store, name, holder, holder_id, ttl, clock.now())
        if got.acquired:
            break
        expires = got.lock.expires_at
        until = None
        if expires is not None:
            until = clock.monotonic() + max(0.0, (expires - clock.now()).total_seconds())
        if wait is None or not _waiting(store, clock, deadline, until):
            return LockResult("busy", got.lock)
    token = got.lock.token
    env = {**os.environ, "JOBCTL_LOCK": name, "JOBCTL_LOCK_TOKEN": str(token)}

    def renew() -> bool:
        return _renewed(
            lambda: lock_ops.renew(store, name, holder_id, ttl, clock.now()), name, note
        )

    try:
        result = run_wrapped(argv, env, clock, Lease(renew, ttl / 3))
    finally:
        lock_ops.release(store, name, holder_id)
    if result.spawn_error and note is not None:
        note(f"jobctl: lock {name}: {result.spawn_error}")
    return LockResult("ran", got.lock, result.wrapper_code)
