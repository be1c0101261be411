"""Actor identity, request ids, and recording/querying the audit log.

Every state-changing action (CLI, HTTP API, daemon-initiated admin) goes through `record`,
including refused attempts (outcome `refused`).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from jobctl.domain.audit import Actor, AuditEntry, redact
from jobctl.store import Store


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
    return Actor(name=name, uid=uid, host=socket.gethostname())


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
