"""The `kafka:` config section: typed queues, every problem with its line."""

from __future__ import annotations

from pathlib import Path

from jobctl.config.check import check_config
from jobctl.config.kafka import KafkaQueue


def _check(tmp_path: Path, text: str) -> tuple[object, list[str]]:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return check_config(path)


def test_queues_resolve_to_typed_values(tmp_path: Path) -> None:
    config, problems = _check(
        tmp_path,
        """\
kafka:
  bootstrap_servers: b1:9092,b2:9092
  security_protocol: sasl_ssl
  sasl_mechanism: SCRAM-SHA-512
  sasl_username: jobctl
  sample_interval: 1m
  queues:
    scheduler: {group: sched, topic: jobs, max_lag: 1000, max_lag_seconds: 5m}
    mail: {group: mailers}
""",
    )
    assert problems == []
    kafka = config.kafka  # type: ignore[attr-defined]
    assert kafka.bootstrap_servers == "b1:9092,b2:9092"
    assert kafka.security_protocol == "SASL_SSL"
    assert kafka.sample_interval == 60.0
    assert kafka.queue("scheduler") == KafkaQueue(
        "scheduler", "sched", "jobs", max_lag=1000, max_lag_seconds=300.0
    )
    assert kafka.queue("mail") == KafkaQueue("mail", "mailers")
    assert kafka.queue("nope") is None


def test_problems_are_all_reported_with_lines(tmp_path: Path) -> None:
    _config, problems = _check(
        tmp_path,
        """\
kafka:
  sasl_password: hunter2
  security_protocol: CLEARTEXT
  colour: blue
  queues:
    a: {topic: t}
    b: {group: g, max_lag: -1, warn_lag_seconds: soon, extra: 1}
""",
    )
    text = "\n".join(problems)
    assert "config.yaml:2: no password in config" in text
    assert "hunter2" not in text
    assert "config.yaml:3: invalid security_protocol 'CLEARTEXT'" in text
    assert "config.yaml:4: unknown kafka key 'colour'" in text
    assert "kafka queue 'a' needs a group" in text
    assert "max_lag must be a whole number >= 0" in text
    assert "warn_lag_seconds" in text and "'extra'" in text
    assert "kafka queues need kafka.bootstrap_servers" in text


def test_no_section_means_defaults(tmp_path: Path) -> None:
    config, problems = _check(tmp_path, "durability: full\n")
    assert problems == []
    assert config.kafka.queues == ()  # type: ignore[attr-defined]
