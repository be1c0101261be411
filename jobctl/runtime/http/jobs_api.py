"""`POST /internal/jobs` and `GET /internal/jobs/{id}`.

The enqueue body is `{"job_type"|"job_class": NAME, "payload": {...}, "run_at": ISO8601?,
"queue"?, "key"?}` (plus a few optional job fields). Only configured job types can be
enqueued over HTTP, never a raw command. The job goes through the same resolution as
`jobctl enqueue --type` (job types, queue defaults, strict queues, backpressure).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jobctl.config.model import Config
from jobctl.config.resolve import EnqueueOptions, build_spec
from jobctl.domain.audit import Actor
from jobctl.domain.digits import parse_digits
from jobctl.domain.durations import parse_seconds, parse_time
from jobctl.domain.job import check_payload
from jobctl.errors import InvalidInput
from jobctl.ops import audit
from jobctl.ops.shapes import job_shape

if TYPE_CHECKING:
    from jobctl.store.group_commit import GroupCommit
    from jobctl.store.protocol import Store


TEXT_FIELDS = ("queue", "key", "name", "ordering_key", "tenant")
INT_FIELDS = ("priority", "max_attempts")
FIELDS = {"job_type", "job_class", "payload", "run_at", "timeout", *TEXT_FIELDS, *INT_FIELDS}
MAX_ID = 2**63 - 1
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
# The syntax of `run_at`, checked here and published as the OpenAPI pattern (one source):
# an ISO 8601 date, optionally a time (no offset: the daemon's zone), or +DURATION.
_DATE = r"(?!0000)[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
_TIME = r"[Tt ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?"
_OFFSET = r"([Zz]|[+-]([01][0-9]|2[0-3])(:?[0-5][0-9])?)"
_NUMBER = r"[0-9]+(\.[0-9]+)?"
_RELATIVE = rf"\+({_NUMBER}|({_NUMBER}(ms|s|m|h|d|w))+)"
RUN_AT_PATTERN = rf"^({_DATE}({_TIME}{_OFFSET}?)?|{_RELATIVE})$"
_RUN_AT = re.compile(RUN_AT_PATTERN)


class MalformedBody(Exception):
    """400: the body is not a JSON object."""


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_body(raw: bytes) -> dict[str, Any]:
    """The JSON object in `raw`; MalformedBody otherwise."""
    try:
        document = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise MalformedBody("the request body is not valid JSON") from None
    if not isinstance(document, dict):
        raise MalformedBody("the request body must be a JSON object")
    return document


def _text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and (not isinstance(value, str) or not value):
        raise InvalidInput(f"invalid {name} {value!r}: a non-empty string")
    return value


def _int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int) or not INT_MIN <= value <= INT_MAX
    ):
        raise InvalidInput(f"invalid {name} {value!r}: an integer in [{INT_MIN}, {INT_MAX}]")
    return value


def _job_type(body: dict[str, Any]) -> str:
    job_type, job_class = _text(body, "job_type"), _text(body, "job_class")
    if job_type and job_class and job_type != job_class:
        raise InvalidInput(f"job_type {job_type!r} and job_class {job_class!r} differ")
    name = job_type or job_class
    if not name:
        raise InvalidInput("job_type (or job_class) is required")
    return name


def _run_at(body: dict[str, Any], now: datetime) -> datetime | None:
    value = body.get("run_at")
    if value is None:
        return None
    if not isinstance(value, str) or not _RUN_AT.fullmatch(value):
        raise InvalidInput(
            f"invalid run_at {value!r}: ISO 8601 (2030-01-01T09:00:00Z; no offset: the"
            " daemon's zone) or relative (+5m)"
        )
    try:
        return parse_time(value, now, what="run_at")
    except (OverflowError, ValueError):
        raise InvalidInput(f"invalid run_at {value!r}: out of range") from None


def _timeout(body: dict[str, Any]) -> float | None:
    value = body.get("timeout")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidInput(f"invalid timeout {value!r}: seconds or a duration like 30s")
    try:
        return parse_seconds(value, "timeout")
    except (OverflowError, ValueError):
        raise InvalidInput(f"invalid timeout {value!r}: out of range") from None


def options_from_body(body: dict[str, Any], now: datetime, request_id: str) -> EnqueueOptions:
    """The enqueue options a body asks for; InvalidInput (422) naming the bad field."""
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise InvalidInput(f"unknown field {unknown[0]!r}")
    payload = check_payload(body.get("payload"))
    return EnqueueOptions(  # checked in this order: the first bad field is named
        queue=_text(body, "queue"),
        key=_text(body, "key"),
        name=_text(body, "name"),
        ordering_key=_text(body, "ordering_key"),
        tenant=_text(body, "tenant"),
        priority=_int(body, "priority"),
        max_attempts=_int(body, "max_attempts"),
        job_type=_job_type(body),
        payload=payload if payload is not None else {},
        run_at=_run_at(body, now),
        timeout=_timeout(body),
        request_id=request_id,
    )


def enqueue(
    store: Store,
    group: GroupCommit,
    config: Config,
    body: dict[str, Any],
    now: datetime,
    request_id: str,
    actor: Actor,
) -> tuple[bool, dict[str, Any]]:
    """Enqueue one job as `jobctl enqueue --type` would (config resolution, strict queues,
    backpressure), audited as `job.enqueue` by `actor` in the same transaction, through
    `group` (the commit is shared with the other workers' concurrent enqueues, and durable
    before this returns); returns (created?, job shape). InvalidInput / Unavailable
    propagate."""
    options = options_from_body(body, now, request_id)
    try:
        spec = build_spec(options, config)
    except (OverflowError, ValueError) as exc:  # a value the domain cannot represent
        raise InvalidInput(f"invalid job: {exc}") from None
    guards = {q.name: q.backpressure for q in config.queues if q.backpressure}
    args = {"job_type": spec.job_type, "queue": spec.queue, "via": "http"}
    entry = audit.entry(now, actor, request_id, "job.enqueue", None, args)
    done = group.enqueue([spec], now, guards, audit=entry)[0]  # shares concurrent commits
    return done.created, job_shape(store.jobs.get(done.id), now)


def job_id_from(text: str) -> int | None:
    """A path's job id, or None when it cannot name a job (404)."""
    value = parse_digits(text)
    return value if value is not None and 0 < value <= MAX_ID else None
