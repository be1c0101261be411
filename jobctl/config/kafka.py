"""The optional `kafka:` config section: the cluster `kafka-lag` checks and its named queues.

```yaml
kafka:
  bootstrap_servers: broker1:9092,broker2:9092
  security_protocol: SASL_SSL          # optional, with sasl_mechanism / sasl_username
  sasl_password_file: /etc/jobctl/kafka.pw   # or env JOBCTL_KAFKA_PASSWORD
  sample_interval: 1m                  # optional: the daemon records lag samples
  queues:
    scheduler: {group: scheduler-workers, topic: jobs, max_lag: 1000, max_lag_seconds: 5m}
```
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jobctl.domain.durations import parse_seconds
from jobctl.errors import InvalidInput

KEYS = {
    "bootstrap_servers",
    "security_protocol",
    "sasl_mechanism",
    "sasl_username",
    "sasl_password_file",
    "sample_interval",
    "queues",
}
QUEUE_KEYS = {"group", "topic", "warn_lag", "max_lag", "warn_lag_seconds", "max_lag_seconds"}
SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")

Problems = list[tuple[tuple[Any, ...], str]]


@dataclass(frozen=True)
class KafkaQueue:
    """A named consumer group (and optionally one topic) that `kafka-lag --queue` checks."""

    name: str
    group: str
    topic: str | None = None
    warn_lag: int | None = None
    max_lag: int | None = None
    warn_lag_seconds: float | None = None
    max_lag_seconds: float | None = None


@dataclass(frozen=True)
class KafkaConfig:
    """`kafka:`: the cluster, its security settings (the password never lives in config:
    env JOBCTL_KAFKA_PASSWORD or `sasl_password_file`) and the queues to watch. With
    `sample_interval`, the daemon records lag samples of every queue at that period."""

    bootstrap_servers: str | None = None
    security_protocol: str | None = None
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password_file: str | None = None
    sample_interval: float | None = None
    queues: tuple[KafkaQueue, ...] = ()

    def queue(self, name: str) -> KafkaQueue | None:
        return next((q for q in self.queues if q.name == name), None)


def _text(problems: Problems, path: tuple[Any, ...], value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        problems.append((path, f"{path[-1]} must be a non-empty string, got {value!r}"))
        return None
    return value.strip()


def _count(problems: Problems, path: tuple[Any, ...], value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        problems.append((path, f"{path[-1]} must be a whole number >= 0, got {value!r}"))
        return None
    return value


def _seconds(problems: Problems, path: tuple[Any, ...], value: Any) -> float | None:
    if value is None:
        return None
    try:
        return parse_seconds(value, str(path[-1]))
    except InvalidInput as exc:
        problems.append((path, str(exc)))
        return None


def _queue(problems: Problems, name: str, value: Any) -> KafkaQueue | None:
    path = ("kafka", "queues", name)
    if not isinstance(value, dict):
        problems.append((path, f"kafka queue {name!r} must be a mapping with a group"))
        return None
    for key in value:
        if key not in QUEUE_KEYS:
            problems.append(((*path, key), f"unknown key in kafka queue {name!r}: {key!r}"))
    group = _text(problems, (*path, "group"), value.get("group"))
    if group is None:
        if "group" not in value:
            problems.append((path, f"kafka queue {name!r} needs a group"))
        return None
    return KafkaQueue(
        name=name,
        group=group,
        topic=_text(problems, (*path, "topic"), value.get("topic")),
        warn_lag=_count(problems, (*path, "warn_lag"), value.get("warn_lag")),
        max_lag=_count(problems, (*path, "max_lag"), value.get("max_lag")),
        warn_lag_seconds=_seconds(
            problems, (*path, "warn_lag_seconds"), value.get("warn_lag_seconds")
        ),
        max_lag_seconds=_seconds(
            problems, (*path, "max_lag_seconds"), value.get("max_lag_seconds")
        ),
    )


def parse_kafka(value: Any) -> tuple[KafkaConfig, Problems]:
    """The `kafka:` section as a KafkaConfig, and every problem as (path, message)."""
    problems: Problems = []
    if value is None:
        return KafkaConfig(), problems
    if not isinstance(value, dict):
        return KafkaConfig(), [(("kafka",), "kafka must be a mapping")]
    for key in value:
        if key == "sasl_password":
            problems.append(
                (
                    ("kafka", key),
                    "no password in config: use env JOBCTL_KAFKA_PASSWORD or sasl_password_file",
                )
            )
        elif key not in KEYS:
            problems.append((("kafka", key), f"unknown kafka key {key!r}"))
    protocol = _text(problems, ("kafka", "security_protocol"), value.get("security_protocol"))
    if protocol is not None and protocol.upper() not in SECURITY_PROTOCOLS:
        problems.append(
            (
                ("kafka", "security_protocol"),
                f"invalid security_protocol {protocol!r}: use {', '.join(SECURITY_PROTOCOLS)}",
            )
        )
    queues_value = value.get("queues") or {}
    queues: list[KafkaQueue] = []
    if not isinstance(queues_value, dict):
        problems.append((("kafka", "queues"), "kafka queues must be a mapping of name: {group}"))
    else:
        for name, item in queues_value.items():
            queue = _queue(problems, str(name), item)
            if queue is not None:
                queues.append(queue)
    interval = _seconds(problems, ("kafka", "sample_interval"), value.get("sample_interval"))
    if interval is not None and interval <= 0:
        problems.append((("kafka", "sample_interval"), "sample_interval must be over 0"))
        interval = None
    config = KafkaConfig(
        bootstrap_servers=_text(
            problems, ("kafka", "bootstrap_servers"), value.get("bootstrap_servers")
        ),
        security_protocol=protocol.upper() if protocol else None,
        sasl_mechanism=_text(problems, ("kafka", "sasl_mechanism"), value.get("sasl_mechanism")),
        sasl_username=_text(problems, ("kafka", "sasl_username"), value.get("sasl_username")),
        sasl_password_file=_text(
            problems, ("kafka", "sasl_password_file"), value.get("sasl_password_file")
        ),
        sample_interval=interval,
        queues=tuple(queues),
    )
    if config.queues and config.bootstrap_servers is None:
        problems.append((("kafka",), "kafka queues need kafka.bootstrap_servers"))
    return config, problems
