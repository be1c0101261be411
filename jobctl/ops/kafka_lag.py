"""Consumer lag from a Kafka cluster via confluent-kafka (the optional `kafka` extra).

Committed offsets come from the AdminClient (ListConsumerGroupOffsets), end offsets from
ListOffsets (latest), membership from DescribeConsumerGroups. `lag_seconds` is the age of
the message at the committed offset, read by a Consumer that is *assigned* the partitions
(it never joins the group and never commits). Every call shares one deadline, `timeout`.
librdkafka's own log lines go to a silent logger: failures surface as one report line.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from jobctl.clock import Clock
from jobctl.ops.kafka_client import (
    PROBE_GROUP,
    client_config,
    make_client,
    oldest_timestamps,
    remaining,
)
from jobctl.ops.kafka_report import (
    GroupSnapshot,
    LagReport,
    LagRequest,
    PartitionLag,
    evaluate,
    unknown,
)

if TYPE_CHECKING:
    from jobctl.store.protocol import Store


INSTALL_HINT = (  # `jobctl` on the public package index is another project: never name it
    "kafka-lag needs confluent-kafka (jobctl's kafka extra): pip install 'confluent-kafka>=2.3'"
    " into jobctl's environment, or install jobctl from its checkout with pip install '.[kafka]'"
)


class _Unreachable(Exception):
    """The cluster did not answer within the deadline (message: why)."""


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


def _result(future: Any, clock: Clock, deadline: float, request: LagRequest, what: str) -> Any:
    from confluent_kafka import KafkaException

    try:
        return future.result(timeout=remaining(clock, deadline))
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

    admin = make_client(AdminClient, client_config(request))
    try:
        metadata = admin.list_topics(timeout=remaining(clock, deadline))
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
    stamps = oldest_timestamps(request, behind, clock, deadline)
    now_ms = clock.now().timestamp() * 1000
    return [
        GroupSnapshot(group, _rows(committed[group], ends, stamps, now_ms), members.get(group))
        for group in groups
    ]


def _rows(
    committed: dict[tuple[str, int], int | None],
    ends: dict[tuple[str, int], int],
    stamps: dict[tuple[str, int, int], int | None],
    now_ms: float,
) -> tuple[PartitionLag, ...]:
    rows = []
    for (topic, partition), offset in sorted(committed.items()):
        end = ends.get((topic, partition), 0)
        age: float | None = None
        if offset is not None:
            key = (topic, partition, offset)
            if end <= offset or (key in stamps and stamps[key] is None):
                age = 0.0  # nothing left to consume
            else:
                age = _age(stamps.get(key), now_ms)
        rows.append(PartitionLag(topic, partition, offset, end, age))
    return tuple(rows)


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
            described = future.result(timeout=remaining(clock, deadline))
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
