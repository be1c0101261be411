"""Consumer lag from a Kafka cluster via confluent-kafka (the optional `kafka` extra).

Committed offsets come from the AdminClient (ListConsumerGroupOffsets), end offsets from
ListOffsets (latest), membership from DescribeConsumerGroups. `lag_seconds` is the age of
the message at the committed offset, read by a Consumer that is *assigned* the partitions
(it never joins the group and never commits). Every call shares one deadline, `timeout`.
librdkafka's own log lines go to a silent logger: failures surface as one report line.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from jobctl.clock import Clock
from jobctl.errors import InvalidInput
from jobctl.ops.kafka_report import (
    GroupSnapshot,
    LagReport,
    LagRequest,
    PartitionLag,
    evaluate,
    unknown,
)
from jobctl.store import Store

INSTALL_HINT = "kafka-lag needs confluent-kafka: pip install 'jobctl[kafka]'"
PROBE_GROUP = "jobctl-kafka-lag"  # the Consumer's group.id; it never joins nor commits
OFFSET_INVALID = -1001

_SILENT = logging.getLogger("jobctl.kafka.librdkafka")
_SILENT.addHandler(logging.NullHandler())
_SILENT.propagate = False


class _Unreachable(Exception):
    """The cluster did not answer within the deadline (message: why)."""


def client_config(request: LagRequest) -> dict[str, Any]:
    """librdkafka settings shared by the admin client and the consumer."""
    conf: dict[str, Any] = {
        "bootstrap.servers": request.bootstrap_servers,
        "logger": _SILENT,
        "log_level": 0,
        "error_cb": lambda _err: None,
        "socket.connection.setup.timeout.ms": max(1000, int(request.timeout * 1000)),
    }
    sec = request.security
    for key, value in (
        ("security.protocol", sec.protocol),
        ("sasl.mechanism", sec.mechanism),
        ("sasl.username", sec.username),
        ("sasl.password", sec.password),
    ):
        if value is not None:
            conf[key] = value
    return conf


def client_available() -> bool:
    """Whether confluent-kafka (the `kafka` extra) can be imported."""
    try:
        import confluent_kafka  # noqa: F401
    except ImportError:
        return False
    return True


def check_lag(request: LagRequest, clock: Clock, store: Store | None = None) -> LagReport:
    """Read every requested group's offsets, record them as samples (with a store) and
    evaluate. Never raises for the cluster's sake: a missing client library or an
    unreachable broker is an UNKNOWN report."""
    if not client_available():
        return unknown("kafka", INSTALL_HINT)
    deadline = clock.monotonic() + request.timeout
    try:
        snapshots = read_snapshots(request, clock, deadline)
    except _Unreachable as exc:
        return unknown("broker", str(exc))
    return evaluate(snapshots, request, clock.now(), store)


def _remaining(clock: Clock, deadline: float) -> float:
    return max(deadline - clock.monotonic(), 0.01)


def _result(future: Any, clock: Clock, deadline: float, request: LagRequest, what: str) -> Any:
    from confluent_kafka import KafkaException

    try:
        return future.result(timeout=_remaining(clock, deadline))
    except KafkaException as exc:
        error = exc.args[0] if exc.args else exc
        text = error.str() if hasattr(error, "str") else str(error)
        raise _Unreachable(f"{what} failed on {request.bootstrap_servers}: {text}") from None
    except TimeoutError:  # concurrent.futures.TimeoutError is TimeoutError on 3.11
        raise _Unreachable(
            f"{what} got no answer from {request.bootstrap_servers} within {request.timeout:g}s"
        ) from None


def read_snapshots(request: LagRequest, clock: Clock, deadline: float) -> list[GroupSnapshot]:
    """The current offsets of the requested groups (all groups when none is named)."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    admin = _client(AdminClient, client_config(request))
    try:
        metadata = admin.list_topics(timeout=_remaining(clock, deadline))
    except KafkaException as exc:
        raise _Unreachable(
            f"cannot reach Kafka at {request.bootstrap_servers} within {request.timeout:g}s"
            f" ({exc.args[0].str() if exc.args else exc})"
        ) from None
    partitions = {name: sorted(t.partitions) for name, t in metadata.topics.items()}
    groups = list(request.groups) or _all_groups(admin, clock, deadline, request)
    committed = _committed(admin, groups, partitions, clock, deadline, request)
    members = _members(admin, groups, clock, deadline)
    wanted = {key for offsets in committed.values() for key in offsets}
    ends = _end_offsets(admin, wanted, clock, deadline, request)
    behind = {
        (t, p, c)
        for offsets in committed.values()
        for (t, p), c in offsets.items()
        if c is not None and ends.get((t, p), 0) > c
    }
    stamps = _oldest_timestamps(request, behind, clock, deadline)
    now_ms = clock.now().timestamp() * 1000
    snapshots = []
    for group in groups:
        rows = []
        for (topic, partition), offset in sorted(committed[group].items()):
            end = ends.get((topic, partition), 0)
            age: float | None = None
            if offset is not None:
                stamp = stamps.get((topic, partition, offset))
                age = 0.0 if end <= offset else _age(stamp, now_ms)
            rows.append(PartitionLag(topic, partition, offset, end, age))
        snapshots.append(GroupSnapshot(group, tuple(rows), members.get(group)))
    return snapshots


def _client(factory: Any, conf: dict[str, Any]) -> Any:
    """An AdminClient or Consumer; librdkafka rejecting a setting is invalid input."""
    from confluent_kafka import KafkaException

    try:
        return factory(conf)
    except KafkaException as exc:
        error = exc.args[0] if exc.args else exc
        text = error.str() if hasattr(error, "str") else str(error)
        raise InvalidInput(f"invalid Kafka client setting: {text}") from None


def _age(stamp_ms: int | None, now_ms: float) -> float | None:
    return None if stamp_ms is None else max(now_ms - stamp_ms, 0.0) / 1000


def _all_groups(admin: Any, clock: Clock, deadline: float, request: LagRequest) -> list[str]:
    listing = _result(admin.list_consumer_groups(), clock, deadline, request, "ListGroups")
    return sorted(g.group_id for g in listing.valid if g.group_id != PROBE_GROUP)


def _committed(
    admin: Any,
    groups: Iterable[str],
    partitions: dict[str, list[int]],
    clock: Clock,
    deadline: float,
    request: LagRequest,
) -> dict[str, dict[tuple[str, int], int | None]]:
    """group -> {(topic, partition): committed or None} over every partition of each topic
    the group has committed on (or of `--topic` only)."""
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition

    futures: dict[str, Any] = {}
    for group in groups:
        explicit = None
        if request.topic is not None:
            explicit = [TopicPartition(request.topic, p) for p in partitions.get(request.topic, [])]
        (futures[group],) = admin.list_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(group, explicit)], request_timeout=request.timeout
        ).values()
    out: dict[str, dict[tuple[str, int], int | None]] = {}
    for group, future in futures.items():
        answer = _result(future, clock, deadline, request, f"OffsetFetch of group {group!r}")
        found = {
            (tp.topic, tp.partition): tp.offset if tp.offset >= 0 else None
            for tp in answer.topic_partitions
            if request.topic is None or tp.topic == request.topic
        }
        offsets: dict[tuple[str, int], int | None] = {}
        for topic in sorted({t for t, _ in found} | ({request.topic} if request.topic else set())):
            for partition in partitions.get(topic, []):
                offsets[(topic, partition)] = found.get((topic, partition))
        out[group] = offsets
    return out


def _members(admin: Any, groups: list[str], clock: Clock, deadline: float) -> dict[str, bool]:
    """group -> whether it has active members: False when the group is EMPTY or DEAD, True
    when it lists members or is STABLE / rebalancing; groups whose state the broker does not
    give are left out (unknown)."""
    from confluent_kafka import ConsumerGroupState

    if not groups:
        return {}
    live = {
        ConsumerGroupState.STABLE,
        ConsumerGroupState.PREPARING_REBALANCING,
        ConsumerGroupState.COMPLETING_REBALANCING,
    }
    out = {}
    for group, future in admin.describe_consumer_groups(groups).items():
        try:
            described = future.result(timeout=_remaining(clock, deadline))
        except Exception:  # a broker without DescribeGroups: membership unknown
            continue
        if described.members or described.state in live:
            out[group] = True
        elif described.state in (ConsumerGroupState.EMPTY, ConsumerGroupState.DEAD):
            out[group] = False
    return out


def _end_offsets(
    admin: Any,
    wanted: set[tuple[str, int]],
    clock: Clock,
    deadline: float,
    request: LagRequest,
) -> dict[tuple[str, int], int]:
    from confluent_kafka import TopicPartition
    from confluent_kafka.admin import OffsetSpec

    if not wanted:
        return {}
    specs = {TopicPartition(t, p): OffsetSpec.latest() for t, p in sorted(wanted)}
    futures = admin.list_offsets(specs, request_timeout=request.timeout)
    return {
        (tp.topic, tp.partition): _result(f, clock, deadline, request, "ListOffsets").offset
        for tp, f in futures.items()
    }


def _oldest_timestamps(
    request: LagRequest,
    wanted: set[tuple[str, int, int]],
    clock: Clock,
    deadline: float,
) -> dict[tuple[str, int, int], int]:
    """(topic, partition, offset) -> timestamp (ms) of the first message at or after that
    offset. Partitions are assigned (never subscribed) in rounds, one offset per partition
    per round (two groups may sit at different offsets); never commits."""
    from confluent_kafka import Consumer

    conf = client_config(request) | {
        "group.id": PROBE_GROUP,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "fetch.wait.max.ms": 10,
    }
    found: dict[tuple[str, int, int], int] = {}
    if not wanted:
        return found
    consumer = _client(Consumer, conf)
    try:
        for batch in _rounds(sorted(wanted)):
            _read_round(consumer, batch, found, clock, deadline)
    finally:
        consumer.close()
    return found


def _rounds(wanted: list[tuple[str, int, int]]) -> Iterable[list[tuple[str, int, int]]]:
    pending = list(wanted)
    while pending:
        seen: set[tuple[str, int]] = set()
        batch, rest = [], []
        for item in pending:
            (rest if item[:2] in seen else batch).append(item)
            seen.add(item[:2])
        yield batch
        pending = rest


def _read_round(
    consumer: Any,
    batch: list[tuple[str, int, int]],
    found: dict[tuple[str, int, int], int],
    clock: Clock,
    deadline: float,
) -> None:
    from confluent_kafka import TopicPartition

    at = {(t, p): o for t, p, o in batch}
    consumer.assign([TopicPartition(t, p, o) for t, p, o in batch])
    missing = set(at)
    while missing and clock.monotonic() < deadline:
        for message in consumer.consume(
            len(missing), timeout=min(0.2, _remaining(clock, deadline))
        ):
            key = (message.topic(), message.partition())
            if message.error() is None and key in missing and message.offset() >= at[key]:
                kind, stamp = message.timestamp()
                if kind:  # 0: TIMESTAMP_NOT_AVAILABLE
                    found[(*key, at[key])] = stamp
                missing.discard(key)
                _pause(consumer, key)
    consumer.unassign()


def _pause(consumer: Any, key: tuple[str, int]) -> None:
    from confluent_kafka import TopicPartition

    consumer.pause([TopicPartition(*key)])
