"""Audit entries (SPEC "Ops toolkit", Audit) and the redaction of secrets in their args."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

REDACTED = "[redacted]"
_SECRET_NAME = re.compile(r"pass(word|wd)?|secret|token|api[_-]?key|credential|private", re.I)
_ENV_PAIR = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.S)


@dataclass(frozen=True)
class Actor:
    """Who acts: the human behind sudo if any, their uid, the host."""

    name: str
    uid: int | None
    host: str


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor: str
    uid: int | None
    host: str
    request_id: str
    action: str
    target: str | None
    args: dict[str, Any]
    outcome: str = "ok"  # ok | refused | failed
    id: int | None = None


def ids_target(ids: Sequence[int | str]) -> str:
    """A list of job ids as an audit target: `7`, `3,7,9`, or `5..1004 (1000 jobs)`."""
    if len(ids) <= 10:
        return ",".join(str(i) for i in ids)
    numbers = [int(i) for i in ids]
    return f"{min(numbers)}..{max(numbers)} ({len(ids)} jobs)"


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def redact(value: Any, key: str = "") -> Any:
    """A copy of `value` with secrets replaced: values under secret-looking keys, and the
    value part of `NAME=VALUE` strings whose NAME looks secret (e.g. `--env DB_PASSWORD=x`)."""
    if key and is_secret_name(key) and value not in (None, "", [], {}):
        return REDACTED
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        match = _ENV_PAIR.match(value)
        if match and is_secret_name(match.group(1)):
            return f"{match.group(1)}={REDACTED}"
    return value
