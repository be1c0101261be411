"""The daemon's kafka lag sampler is wired only when configured (its work against a real
broker is covered end to end in tests/e2e/test_kafka_lag_cli.py)."""

from __future__ import annotations

from dataclasses import replace

from jobctl.config.kafka import KafkaConfig, KafkaQueue
from jobctl.config.model import Config
from jobctl.runtime.kafka_sampler import KafkaSamplerHook, kafka_hooks
from tests.support.clock import ManualClock

QUEUES = (KafkaQueue("orders", "billing"),)


def test_wired_only_with_an_interval_and_queues(db_path: object) -> None:
    clock = ManualClock()
    base = KafkaConfig(bootstrap_servers="k:9092", queues=QUEUES)
    assert kafka_hooks(str(db_path), Config(kafka=base), clock) == []
    no_queues = replace(base, sample_interval=60.0, queues=())
    assert kafka_hooks(str(db_path), Config(kafka=no_queues), clock) == []
    [hook] = kafka_hooks(str(db_path), Config(kafka=replace(base, sample_interval=60.0)), clock)
    assert isinstance(hook, KafkaSamplerHook) and hook.config.queues == QUEUES


def test_reload_takes_the_new_queues(db_path: object) -> None:
    hook = KafkaSamplerHook(str(db_path), KafkaConfig(sample_interval=1.0), ManualClock())
    newer = KafkaConfig(bootstrap_servers="k:9092", sample_interval=5.0, queues=QUEUES)
    hook.on_reload(Config(kafka=newer), ManualClock().now())
    assert hook.config.queues == QUEUES
    hook.on_stop(ManualClock().now())  # never started: nothing to join
