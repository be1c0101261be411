"""Actor identity, request ids, and recording/querying the audit log.

Every state-changing action (CLI, HTTP API, daemon-initiated admin) goes through `record`,
including refused attempts (outcome `refused`).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jobctl.domain.audit import Actor, AuditEntry, redact
from jobctl.errors import InvalidInput, JobctlError, Refused

if TYPE_CHECKING:
    from jobctl.store.protocol import Store


def current_actor() -> Actor:
    """The human at the keyboard: SUDO_USER (the person behind sudo) else USER/LOGNAME,
    else the uid's name; with the real uid and this host."""
    name = os.environ.get("SUDO_USER") or os.environ.get("USER") or os.environ.get("LOGNAME")
    uid = os.getuid()
    if not name:
        try:
            import pwd

            name = pwd.getpwuid(uid).pw_name
        except (KeyError, ImportError):
            name = f"uid:{uid}"
    return Actor(name=name, uid=uid, host=os.uname().nodename)  # gethostname(), without socket


def new_request_id() -> str:
    """A short random id that ties an action to the work it triggers (logs, jobs)."""
    return uuid.uuid4().hex[:16]


def entry(
    now: datetime,
    actor: Actor,
    request_id: str,
    action: str,
    target: str | None,
    args: dict[str, Any] | None = None,
    outcome: str = "ok",
) -> AuditEntry:
    """An audit entry with secrets in `args` redacted."""
    return AuditEntry(
        at=now,
        actor=actor.name,
        uid=actor.uid,
        host=actor.host,
        request_id=request_id,
        action=action,
        target=target,
        args=redact(args or {}),
        outcome=outcome,
    )


def record(
    store: Store,
    now: datetime,
    actor: Actor,
    request_id: str,
    action: str,
    target: str | None,
    args: dict[str, Any] | None = None,
    outcome: str = "ok",
) -> int:
    """Append one audit entry; returns its id."""
    return store.audit.record(entry(now, actor, request_id, action, target, args, outcome))


def query(
    store: Store, since: datetime | None = None, actions: Iterable[str] = (), limit: int = 1000
) -> list[AuditEntry]:
    """Entries oldest first (the newest `limit`), optionally since a time / for actions."""
    return store.audit.list(since, actions, limit)


def outcome_of(exc: BaseException) -> str | None:
    """The audit outcome of a block that raised `exc`: `refused` (a guard rail said no),
    None for invalid input (it changed nothing, and writes nothing at all), else `failed`."""
    if isinstance(exc, Refused):
        return "refused"
    if isinstance(exc, InvalidInput):
        return None
    return "failed"


@dataclass(frozen=True)
class Caller:
    """Who asks for a change, through which door: the CLI (a person, who may be prompted at
    a TTY to confirm) or the HTTP API (a token, which confirms in its request body)."""

    actor: Actor
    request_id: str
    confirm: str | None = None  # the confirmation given: `--confirm X`, `{"confirm": "X"}`
    prompt: bool = False  # may a guard rail ask at the terminal
    hint: str = "--confirm {}"  # how to confirm, shown in a refusal
    outcome: Callable[[BaseException], str | None] = field(default=outcome_of, compare=False)
    confirmed: Callable[[], None] | None = field(default=None, compare=False)  # guard passed


@dataclass
class Audit:
    """What will be recorded; the block may fill in what it learns (e.g. new job ids).
    A block that commits the entry with its own change (`entry()` handed to the store, one
    transaction instead of two) sets `recorded` so that it is not written twice."""

    target: str | None
    args: dict[str, Any] = field(default_factory=dict)
    recorded: bool = False
    build: Callable[[Audit, str], AuditEntry] | None = field(default=None, repr=False)

    def entry(self, outcome: str = "ok") -> AuditEntry:
        """The entry as it stands now (secrets redacted)."""
        assert self.build is not None
        return self.build(self, outcome)


@contextlib.contextmanager
def audited(
    store: Callable[[], Store],
    caller: Caller,
    action: str,
    target: str | None,
    args: dict[str, Any] | None = None,
    guard: Callable[[], None] | None = None,
    *,
    now: Callable[[], datetime],
) -> Iterator[Audit]:
    """Record `action` on `target` by `caller` with its outcome: `ok`, or what the caller's
    `outcome` makes of an exception (`refused`, `failed`, or nothing for invalid input). A
    dangerous action passes its `guard` first (then the caller's `confirmed` is called).
    `store` is called only to record. The one way the CLI and the HTTP API audit."""
    found: str | None = "failed"
    audit = Audit(target, dict(args or {}))
    audit.build = lambda a, result: entry(
        now(), caller.actor, caller.request_id, action, a.target, a.args, result
    )
    try:
        if guard is not None:
            guard()
            if caller.confirmed is not None:
                caller.confirmed()
        yield audit
        found = "ok"
    except BaseException as exc:
        found = caller.outcome(exc)
        raise
    finally:
        if found is not None and not (found == "ok" and audit.recorded):
            with contextlib.suppress(JobctlError):
                store().audit.record(audit.entry(found))
