"""kafka-lag results: per-partition figures, per-group verdicts, the Nagios report.

`evaluate` records the current offsets as one sample per partition (when given a store),
reads each partition's window back and classifies every group with `domain.lag`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from jobctl.config.kafka import SECURITY_PROTOCOLS, KafkaConfig, KafkaQueue
from jobctl.domain.lag import (
    DEFAULT_WINDOW,
    MIN_TREND_SAMPLES,
    LagStatus,
    Sample,
    Thresholds,
    Verdict,
    evaluate_group,
)
from jobctl.errors import InvalidInput
from jobctl.ops.report import Level, Probe, Report

if TYPE_CHECKING:
    from jobctl.store.protocol import Store


SAMPLE_RETENTION = timedelta(hours=24)  # older samples are pruned and never evaluated


@dataclass(frozen=True)
class KafkaSecurity:
    """librdkafka security settings; the password is never shown (repr) or logged."""

    protocol: str | None = None
    mechanism: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class LagRequest:
    """What to check: a cluster, its groups (empty: all), an optional topic, thresholds."""

    bootstrap_servers: str
    groups: tuple[str, ...] = ()
    topic: str | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)
    window: float = DEFAULT_WINDOW  # seconds Burrow's rules need the samples to span
    timeout: float = 10.0
    security: KafkaSecurity = field(default_factory=KafkaSecurity)

    @property
    def cluster(self) -> str:
        """The key samples are stored under: the bootstrap servers, sorted."""
        return ",".join(sorted(s.strip() for s in self.bootstrap_servers.split(",") if s.strip()))


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    committed: int | None  # None: no commit by this group
    end: int  # high watermark
    lag_seconds: float | None = None  # age of the oldest unconsumed message; 0 at lag 0

    @property
    def lag(self) -> int | None:
        return None if self.committed is None else max(self.end - self.committed, 0)

    def shape(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "committed": self.committed,
            "end": self.end,
            "lag": self.lag,
            "lag_seconds": None if self.lag_seconds is None else round(self.lag_seconds, 3),
        }


@dataclass(frozen=True)
class GroupSnapshot:
    """One group's offsets as read now; `has_members` None when the broker did not say."""

    group: str
    partitions: tuple[PartitionLag, ...]
    has_members: bool | None = None


@dataclass(frozen=True)
class GroupLag:
    group: str
    verdict: Verdict
    partitions: tuple[PartitionLag, ...]

    @property
    def total_lag(self) -> int | None:
        lags = [p.lag for p in self.partitions if p.lag is not None]
        return sum(lags) if lags else None

    def topics(self) -> list[dict[str, Any]]:
        """Totals per topic: {topic, total_lag (None without any commit), partitions}."""
        out: dict[str, dict[str, Any]] = {}
        for p in self.partitions:
            entry = out.setdefault(p.topic, {"topic": p.topic, "total_lag": None, "partitions": 0})
            entry["partitions"] += 1
            if p.lag is not None:
                entry["total_lag"] = (entry["total_lag"] or 0) + p.lag
        return list(out.values())

    def shape(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "status": self.verdict.status.value,
            "reason": self.verdict.reason,
            "total_lag": self.total_lag,
            "topics": self.topics(),
            "partitions": [p.shape() for p in self.partitions],
        }


@dataclass(frozen=True)
class LagReport:
    """The Nagios report (one probe per group) and the groups behind it."""

    report: Report
    groups: tuple[GroupLag, ...] = ()

    @property
    def exit_code(self) -> int:
        return self.report.exit_code

    def shape(self) -> dict[str, Any]:
        """SPEC: {"status", "probes", "groups": [{group, status, reason, total_lag,
        partitions: [{topic, partition, committed, end, lag, lag_seconds}]}]}."""
        return {**self.report.shape(), "groups": [g.shape() for g in self.groups]}


def unknown(name: str, message: str) -> LagReport:
    """A report that could not be made (no client library, broker unreachable)."""
    return LagReport(Report.of([Probe(name, Level.UNKNOWN, None, message)]))


def _level(status: LagStatus) -> Level:
    return Level.CRITICAL if status is LagStatus.STOPPED else Level[status.value]


def _windows(
    snapshot: GroupSnapshot, request: LagRequest, store: Store | None, now: datetime
) -> dict[tuple[str, int], list[Sample]]:
    current = {
        (p.topic, p.partition): [Sample(now, p.committed, p.end)] for p in snapshot.partitions
    }
    if store is None or not snapshot.partitions:
        return current
    rows = [(p.topic, p.partition, p.committed, p.end) for p in snapshot.partitions]
    store.kafka.record_samples(request.cluster, snapshot.group, rows, now, now - SAMPLE_RETENTION)
    start = now - timedelta(seconds=request.window)
    stored = store.kafka.windows(
        request.cluster, snapshot.group, start, now - SAMPLE_RETENTION, MIN_TREND_SAMPLES
    )
    return {key: stored.get(key) or window for key, window in current.items()}


def _note_unread(verdict: Verdict, snapshot: GroupSnapshot, request: LagRequest) -> Verdict:
    """The verdict, its reason naming the lagging partitions whose oldest unconsumed message
    was not read within the timeout (their `lag_seconds` is null)."""
    unread = [
        f"{p.topic}/{p.partition}" for p in snapshot.partitions if p.lag and p.lag_seconds is None
    ]
    if not unread:
        return verdict
    note = (
        f"oldest unconsumed message not read within {request.timeout:g}s on {', '.join(unread)}"
        " (lag_seconds unknown)"
    )
    return Verdict(verdict.status, f"{verdict.reason}; {note}")


def evaluate(
    snapshots: Sequence[GroupSnapshot],
    request: LagRequest,
    now: datetime,
    store: Store | None = None,
) -> LagReport:
    """Record `snapshots` as samples at `now` (with a store) and classify each group over
    its window. A group named in the request without any partition is UNKNOWN."""
    groups, probes = [], []
    for snapshot in snapshots:
        if not snapshot.partitions and snapshot.group in request.groups:
            message = f"group {snapshot.group!r} has no committed offsets (unknown group?)"
            probes.append(Probe(f"group:{snapshot.group}", Level.UNKNOWN, None, message))
            continue
        ages = [p.lag_seconds for p in snapshot.partitions if p.lag_seconds is not None]
        verdict = evaluate_group(
            _windows(snapshot, request, store, now),
            request.thresholds,
            oldest_seconds=max(ages) if ages else None,
            has_members=snapshot.has_members,
            span=request.window,
        )
        verdict = _note_unread(verdict, snapshot, request)
        group = GroupLag(snapshot.group, verdict, snapshot.partitions)
        groups.append(group)
        probes.append(
            Probe(f"group:{group.group}", _level(verdict.status), group.total_lag, verdict.reason)
        )
    if not snapshots:
        probes.append(Probe("groups", Level.OK, 0, "no consumer groups on this cluster"))
    return LagReport(Report.of(probes), tuple(groups))


def _read_password(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError as exc:
        raise InvalidInput(f"cannot read the SASL password file {path!r}: {exc.strerror}") from None


def _merge(given: Thresholds, queue: KafkaQueue) -> Thresholds:
    """Each given limit, else the configured queue's."""

    def pick(value: Any, fallback: Any) -> Any:
        return fallback if value is None else value

    return Thresholds(
        warn_lag=pick(given.warn_lag, queue.warn_lag),
        max_lag=pick(given.max_lag, queue.max_lag),
        warn_lag_seconds=pick(given.warn_lag_seconds, queue.warn_lag_seconds),
        max_lag_seconds=pick(given.max_lag_seconds, queue.max_lag_seconds),
    )


def build_request(
    config: KafkaConfig,
    *,
    bootstrap_servers: str | None = None,
    groups: Sequence[str] = (),
    topic: str | None = None,
    queue: str | None = None,
    thresholds: Thresholds | None = None,
    window: float = DEFAULT_WINDOW,
    timeout: float = 10.0,
    security: KafkaSecurity | None = None,
    password_file: str | None = None,
    env_password: str | None = None,
) -> LagRequest:
    """The request from command-line values over the `kafka:` config: `queue` names a
    configured queue (its group, topic and thresholds, each overridden by a given value).
    The password comes from `password_file` (else the config's) or else `env_password`."""
    thresholds = thresholds or Thresholds()
    security = security or KafkaSecurity()
    if queue is not None:
        named = config.queue(queue)
        if named is None:
            known = ", ".join(q.name for q in config.queues) or "none configured"
            raise InvalidInput(f"unknown kafka queue {queue!r} (kafka.queues: {known})")
        groups = [*groups] or [named.group]
        topic = topic or named.topic
        thresholds = _merge(thresholds, named)
    servers = bootstrap_servers or config.bootstrap_servers
    if not servers:
        raise InvalidInput(
            "no bootstrap servers: give --bootstrap-servers H:P (or kafka.bootstrap_servers"
            " in config)"
        )
    if not 0 < window <= SAMPLE_RETENTION.total_seconds():
        raise InvalidInput(
            f"invalid --window {window:g}s: must be over 0 and at most"
            f" {SAMPLE_RETENTION.total_seconds() / 3600:g}h (samples are kept that long)"
        )
    protocol = security.protocol or config.security_protocol
    if protocol is not None and protocol.upper() not in SECURITY_PROTOCOLS:
        raise InvalidInput(
            f"invalid --security-protocol {protocol!r}: use {', '.join(SECURITY_PROTOCOLS)}"
        )
    if timeout <= 0:
        raise InvalidInput(f"invalid --timeout {timeout:g}: must be over 0")
    path = password_file or config.sasl_password_file
    return LagRequest(
        bootstrap_servers=servers,
        groups=tuple(dict.fromkeys(groups)),
        topic=topic,
        thresholds=thresholds,
        window=window,
        timeout=timeout,
        security=KafkaSecurity(
            protocol=protocol.upper() if protocol else None,
            mechanism=security.mechanism or config.sasl_mechanism,
            username=security.username or config.sasl_username,
            password=_read_password(path) if path else env_password,
        ),
    )
