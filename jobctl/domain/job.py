"""Jobs as values: what enqueue asks for (JobSpec), their states and failure classes. What
the store holds (Job, Attempt) is in domain/job_record.py, loaded on first use (`jobctl
enqueue` never builds those classes); importing them from here still works."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from jobctl.domain.retry import RetryPolicy
from jobctl.domain.values import at_once
from jobctl.errors import InvalidInput

if TYPE_CHECKING:
    from jobctl.domain.job_record import Attempt as Attempt  # re-exported (see __getattr__)
    from jobctl.domain.job_record import Job as Job


class State(StrEnum):
    WAITING = "waiting"  # dependencies unfinished
    QUEUED = "queued"  # ready at run_at (a future run_at is shown as "scheduled")
    RUNNING = "running"
    RETRYING = "retrying"  # failed; next attempt at retry_after
    SUCCEEDED = "succeeded"
    DEAD = "dead"  # attempts exhausted or non-retryable failure; a DLQ entry exists
    CANCELLED = "cancelled"


SCHEDULED = "scheduled"  # display state of a queued job whose run_at is in the future
TERMINAL = frozenset({State.SUCCEEDED, State.DEAD, State.CANCELLED})
LIVE = frozenset({State.WAITING, State.QUEUED, State.RUNNING, State.RETRYING})


class FailureClass(StrEnum):
    EXIT = "exit"  # non-zero exit
    TIMEOUT = "timeout"
    SIGNAL = "signal"
    SPAWN = "spawn"  # command not found / not executable: never retried
    LOST = "lost"  # the runner died
    PREEMPTED = "preempted"  # a gang member stopped because its gang stopped (not its fault)


def json_problem(exc: ValueError | RecursionError) -> str:
    """Why `json.loads` refused a text, in a few words: a syntax error, a number longer
    than Python converts, or nesting deeper than it parses."""
    if isinstance(exc, json.JSONDecodeError):
        return exc.msg
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc).split(":", 1)[0]


def check_payload(payload: Any, name: str = "payload", where: str | None = None) -> Any:
    """`payload` when it is a JSON object (or None: no payload); else InvalidInput naming
    the option `name`, the `where` (a file line) and the value. One rule for every way in:
    CLI, `--from` lines, HTTP, the Python API."""
    if payload is None or isinstance(payload, dict):
        return payload
    import json

    shown = json.dumps(payload, ensure_ascii=False, default=str)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    prefix = f"{where}: " if where else ""
    raise InvalidInput(f"{prefix}invalid {name} {shown}: a payload is a JSON object ({{...}})")


@dataclass(frozen=True)
class JobSpec:
    """Everything enqueue needs to create one job; validated before it reaches the store."""

    command: list[str] | None = None
    job_type: str | None = None
    handler: str | None = None  # "module:function" for Python handler job types
    payload: Any = None
    queue: str = "default"
    name: str | None = None
    priority: int = 0
    run_at: datetime | None = None  # None = now
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: float | None = None  # seconds
    key: str | None = None
    ordering_key: str | None = None
    depends_on: tuple[int, ...] = ()
    tenant: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    user: str | None = None
    group: str | None = None
    schedule: str | None = None
    nominal_at: datetime | None = None
    request_id: str | None = None  # the CLI invocation, API call or fire that enqueued it
    on_node: str | None = None  # placement: only this node's daemon claims it
    on_tag: str | None = None  # placement: only a daemon with this tag claims it
    gang_size: int | None = None  # a gang of N members started all together (repos/gangs.py)


def spec_of(values: dict[str, Any]) -> JobSpec:
    """`JobSpec(**values)` where `values` names every field, built at once (values.at_once:
    the frozen __init__'s 24 object.__setattr__ calls cost ~3 us); `values` becomes the
    spec's own."""
    return at_once(JobSpec, values)


def key_held(key: str, holder: int) -> str:
    """Why a job is skipped by retry or `dlq replay`: its key is held by live job `holder`."""
    return f"key {key!r} is held by live job {holder}"


def __getattr__(name: str) -> Any:
    """`Job` and `Attempt`, from domain/job_record.py on first use."""
    if name in ("Job", "Attempt"):
        from jobctl.domain import job_record

        return getattr(job_record, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
