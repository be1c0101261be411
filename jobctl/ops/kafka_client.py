"""confluent-kafka clients for kafka-lag: shared settings (security, a silent librdkafka
logger), construction errors as invalid input, and the reader of the oldest unconsumed
message per partition (assigned, never subscribed; never commits).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from jobctl.clock import Clock
from jobctl.errors import InvalidInput
from jobctl.ops.kafka_report import LagRequest

PROBE_GROUP = "jobctl-kafka-lag"  # the Consumer's group.id; it never joins nor commits

_SILENT = logging.getLogger("jobctl.kafka.librdkafka")
_SILENT.addHandler(logging.NullHandler())
_SILENT.propagate = False


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


def make_client(factory: Any, conf: dict[str, Any]) -> Any:
    """An AdminClient or Consumer; librdkafka rejecting a setting is invalid input."""
    from confluent_kafka import KafkaException

    try:
        return factory(conf)
    except KafkaException as exc:
        error = exc.args[0] if exc.args else exc
        text = error.str() if hasattr(error, "str") else str(error)
        raise InvalidInput(f"invalid Kafka client setting: {text}") from None


def remaining(clock: Clock, deadline: float) -> float:
    """Seconds left before `deadline` (monotonic), at least 10 ms."""
    return max(deadline - clock.monotonic(), 0.01)


def oldest_timestamps(
    request: LagRequest,
    wanted: set[tuple[str, int, int]],
    clock: Clock,
    deadline: float,
) -> dict[tuple[str, int, int], int | None]:
    """(topic, partition, offset) -> timestamp (ms) of the first message at or after that
    offset, or None when the partition ends before any message (nothing to consume: the
    lag is transaction markers). Partitions are assigned (never subscribed) in rounds, one
    offset per partition per round (two groups may sit at different offsets), each round
    resuming what the one before paused; never commits. Offsets not read by `deadline`
    are left out."""
    from confluent_kafka import Consumer

    conf = client_config(request) | {
        "group.id": PROBE_GROUP,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "fetch.wait.max.ms": 10,
        "enable.partition.eof": True,  # lag made only of control records (transactions)
    }
    found: dict[tuple[str, int, int], int | None] = {}
    if not wanted:
        return found
    consumer = make_client(Consumer, conf)
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
        batch: list[tuple[str, int, int]] = []
        rest: list[tuple[str, int, int]] = []
        for item in pending:
            (rest if item[:2] in seen else batch).append(item)
            seen.add(item[:2])
        yield batch
        pending = rest


def _read_round(
    consumer: Any,
    batch: list[tuple[str, int, int]],
    found: dict[tuple[str, int, int], int | None],
    clock: Clock,
    deadline: float,
) -> None:
    from confluent_kafka import KafkaError, TopicPartition

    at = {(t, p): o for t, p, o in batch}
    assigned = [TopicPartition(t, p, o) for t, p, o in batch]
    consumer.assign(assigned)
    consumer.resume(assigned)  # librdkafka keeps an earlier round's pause across unassign
    missing = set(at)
    while missing and clock.monotonic() < deadline:
        for message in consumer.consume(len(missing), timeout=min(0.2, remaining(clock, deadline))):
            key = (message.topic(), message.partition())
            error = message.error()
            if error is not None and error.code() == KafkaError._PARTITION_EOF:
                if key in missing:
                    found[(*key, at[key])] = None
                    missing.discard(key)
            elif error is None and key in missing and message.offset() >= at[key]:
                kind, stamp = message.timestamp()
                if kind:  # 0: TIMESTAMP_NOT_AVAILABLE
                    found[(*key, at[key])] = stamp
                missing.discard(key)
                _pause(consumer, key)
    consumer.unassign()


def _pause(consumer: Any, key: tuple[str, int]) -> None:
    from confluent_kafka import TopicPartition

    consumer.pause([TopicPartition(*key)])
