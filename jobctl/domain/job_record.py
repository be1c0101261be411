"""What the store holds: a job (Job) and each of its runs (Attempt), as values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jobctl.domain.job import SCHEDULED, TERMINAL, FailureClass, State
from jobctl.domain.retry import RetryPolicy


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
    gang_id: int | None = None  # a gang's member: the gang (its rank-0 member's id)
    gang_rank: int | None = None
    gang_size: int | None = None

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
