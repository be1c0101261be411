"""The typed config tree, with SPEC defaults. Built once by config.load; code below the CLI
receives these values, never raw dicts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jobctl.config.section import Section
from jobctl.domain.queues import Backpressure, RateLimit, Shed, is_queue_name, parse_rate_limit
from jobctl.domain.retry import DEFAULT_NON_RETRYABLE_EXIT_CODES, RetryPolicy

if TYPE_CHECKING:
    from jobctl.config.health import HealthConfig
    from jobctl.config.kafka import KafkaConfig
    from jobctl.config.notify import NotifyConfig
    from jobctl.config.switches import ShadowMode

DEFAULT_QUEUE = "default"
_SHADOW_MODE: Section[ShadowMode] = Section("jobctl.config.switches", "ShadowMode")
_KAFKA: Section[KafkaConfig] = Section("jobctl.config.kafka", "KafkaConfig")
_HEALTH: Section[HealthConfig] = Section("jobctl.config.health", "HealthConfig")
_NOTIFY: Section[NotifyConfig] = Section("jobctl.config.notify", "NotifyConfig")
# A field whose config key differs from its name says so in its metadata (`config show`).
RETRY_KEY = {"key": "retry_policy"}


@dataclass(frozen=True)
class QueueConfig:
    name: str
    concurrency: int | None = None  # None: limited only by each daemon's --concurrency
    retry: RetryPolicy | None = field(default=None, metadata=RETRY_KEY)  # None: SPEC defaults
    max_depth: int | None = None
    shed: str = "defer"  # defer | reject
    rate_limit: str | None = None  # e.g. "20/s per tenant" (validated by config.check)
    on_node: str | None = None  # placement of its jobs (a job or job type may say otherwise)
    on_tag: str | None = None
    owner: str | None = None  # notification routing (SPEC "Notifications")
    severity: str | None = None

    @property
    def rate(self) -> RateLimit | None:
        """The parsed rate limit, enforced by the dispatcher's claim."""
        return parse_rate_limit(self.rate_limit) if self.rate_limit else None

    @property
    def backpressure(self) -> Backpressure | None:
        """The depth guard enqueue applies; None without max_depth (never shed)."""
        if self.max_depth is None:
            return None
        return Backpressure(self.name, self.max_depth, Shed(self.shed))


@dataclass(frozen=True)
class JobType:
    name: str
    command: list[str] | None = None
    handler: str | None = None  # "module:function"
    shell: bool = False
    queue: str | None = None
    timeout: float | None = None
    user: str | None = None
    group: str | None = None
    retry: RetryPolicy | None = field(default=None, metadata=RETRY_KEY)
    cwd: str | None = None  # where its jobs run unless an enqueue asks for another directory
    on_node: str | None = None  # placement of its jobs (an enqueue may say otherwise)
    on_tag: str | None = None
    owner: str | None = None  # notification routing (SPEC "Notifications")
    severity: str | None = None


@dataclass(frozen=True)
class DaemonConfig:
    concurrency: int = 8
    lease: float = 30.0
    grace: float = 30.0
    http: str | None = None
    log_format: str = "logfmt"
    misfire_grace: float = 60.0  # a fire handled later than this was missed (misfire policy)
    tags: tuple[str, ...] = ()  # placement: this node's tags (`daemon --tag` adds to them)


@dataclass(frozen=True)
class Config:
    """The effective config. `source` is the file it came from (None: defaults only)."""

    source: str | None = None
    queues: tuple[QueueConfig, ...] = ()
    job_types: tuple[JobType, ...] = ()
    schedules: tuple[dict[str, Any], ...] = ()  # validated fully by the schedules milestone
    retention: dict[str, float] = field(default_factory=dict)  # state -> seconds
    daemon: DaemonConfig = field(default_factory=DaemonConfig)
    durability: str = "full"  # full | fast
    strict_queues: bool = True  # with queues declared, enqueue to an unknown queue is refused
    non_retryable_exit_codes: frozenset[int] = DEFAULT_NON_RETRYABLE_EXIT_CODES
    log_cap: int = 10 * 1024 * 1024
    log_dir: str | None = None
    enabled: bool = True  # false: daemons stay up but claim no job and fire no schedule
    # Sections built on first read (config/section.py): unread, their modules never load
    shadow_mode: Section[ShadowMode] = _SHADOW_MODE
    kafka: Section[KafkaConfig] = _KAFKA
    health: Section[HealthConfig] = _HEALTH  # `jobctl health` thresholds
    notify: Section[NotifyConfig] = _NOTIFY  # channels and routes
    raw: dict[str, Any] = field(default_factory=dict)  # as loaded, for `config show`

    def queue(self, name: str) -> QueueConfig | None:
        return next((q for q in self.queues if q.name == name), None)

    def job_type(self, name: str) -> JobType | None:
        return next((t for t in self.job_types if t.name == name), None)

    def knows_queue(self, name: str) -> bool:
        """Whether enqueue may use this queue: a valid name (domain.queues.is_queue_name),
        declared in config unless none are (or `strict_queues: false`)."""
        if not is_queue_name(name):
            return False
        if not self.queues or not self.strict_queues or name == DEFAULT_QUEUE:
            return True
        return self.queue(name) is not None
