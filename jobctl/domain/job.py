"""Jobs as values: what enqueue asks for (JobSpec) and what the store holds (Job, Attempt)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from jobctl.domain.retry import RetryPolicy
from jobctl.errors import InvalidInput


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


@dataclass(frozen=True)
class Attempt:
    """One run of a job, as recorded."""

    job_id: int
    attempt: int
    node: str | None
    started_at: datetime | None
    finished_at: datetime | None = None
    exit_code: int | None = None
    signal: int | None = None
    failure_class: str | None = None
    duration: float | None = None
    max_rss: int | None = None
    cpu_seconds: float | None = None
    pid: int | None = None
    log_path: str | None = None


def key_held(key: str, holder: int) -> str:
    """Why a job is skipped by retry or `dlq replay`: its key is held by live job `holder`."""
    return f"key {key!r} is held by live job {holder}"


@dataclass(frozen=True)
class Job:
    """A stored job. `state` is the stored state; `display_state(now)` adds "scheduled"."""

    id: int
    queue: str
    state: State
    created_at: datetime
    run_at: datetime
    command: list[str] | None = None
    job_type: str | None = None
    handler: str | None = None
    payload: Any = None
    name: str | None = None
    priority: int = 0
    attempts: int = 0
    budget_start: int = 0  # attempts made before the last `retry` (fresh budget since)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: float | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    exit_code: int | None = None
    signal: int | None = None
    failure_class: str | None = None
    error: str | None = None
    key: str | None = None
    ordering_key: str | None = None
    tenant: str | None = None
    depends_on: tuple[int, ...] = ()
    retry_after: datetime | None = None
    dlq_id: int | None = None
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    user: str | None = None
    group: str | None = None
    schedule: str | None = None
    nominal_at: datetime | None = None
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    cancel_requested: bool = False
    checkpoint: str | None = None
    output_tail: str | None = None
    request_id: str | None = None
    on_node: str | None = None
    on_tag: str | None = None

    @property
    def max_attempts(self) -> int:
        return self.retry.max_attempts

    def display_state(self, now: datetime) -> str:
        if self.state is State.QUEUED and self.run_at > now:
            return SCHEDULED
        return self.state.value

    @property
    def attempts_in_budget(self) -> int:
        """Attempts counted against max_attempts."""
        return self.attempts - self.budget_start

    def wrapper_exit_code(self) -> int:
        """Exit code for `enqueue --wait`/`wait`: the job's, 128+N for signal N, else 1."""
        if self.state is State.SUCCEEDED:
            return 0
        if self.signal is not None and self.failure_class == FailureClass.SIGNAL.value:
            return 128 + self.signal
        if self.exit_code is not None and self.exit_code != 0:
            return self.exit_code
        return 1

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL
