"""The daemon's Kafka lag sampler: with `kafka.sample_interval` set, a `Periodic` thread with
its own store connection records one lag sample of every configured kafka queue per
interval, so `jobctl kafka-lag --queue NAME` judges a full window at once. It logs
`kafka.lag` when a queue's status changes, and `kafka.lag_failed` when a pass fails.
"""

from __future__ import annotations

import os
import threading
from datetime import datetime
from typing import TYPE_CHECKING

from jobctl.clock import Clock
from jobctl.config.kafka import KafkaConfig
from jobctl.config.model import Config
from jobctl.ops.kafka_lag import check_lag, client_available
from jobctl.ops.kafka_report import LagReport, build_request
from jobctl.runtime.hooks import Hook, Periodic
from jobctl.store import open_store

if TYPE_CHECKING:
    from jobctl.runtime.daemon import Daemon
    from jobctl.store.protocol import Store

PASSWORD_ENV = "JOBCTL_KAFKA_PASSWORD"


class KafkaSamplerHook(Hook):
    name = "kafka-sampler"

    def __init__(self, db_url: str, config: KafkaConfig, clock: Clock) -> None:
        self.db_url, self.config, self.clock = db_url, config, clock
        self._store: Store | None = None
        self._stopping = threading.Event()
        self._periodic: Periodic | None = None
        self._daemon: Daemon | None = None
        self._last: dict[str, str] = {}

    def on_start(self, daemon: Daemon, now: datetime) -> None:
        self._daemon = daemon
        interval = self.config.sample_interval or 60.0
        self._periodic = Periodic("jobctl-kafka-sampler", interval, self.work, self._failed)
        self._periodic.start()

    def on_reload(self, config: Config, now: datetime) -> None:
        self.config = config.kafka  # new queues and thresholds; the interval stays

    def on_stop(self, now: datetime) -> None:
        self._stopping.set()
        if self._periodic is not None:
            self._periodic.stop(timeout=15.0)
        if self._store is not None:
            self._store.close()
            self._store = None

    def work(self) -> dict[str, LagReport]:
        """One sample of every configured queue (on the caller's thread, with this hook's
        own connection): queue name -> its report."""
        if self._store is None:
            self._store = open_store(self.db_url)
        reports = {}
        for queue in self.config.queues:
            if self._stopping.is_set():
                break
            request = build_request(
                self.config, queue=queue.name, env_password=os.environ.get(PASSWORD_ENV)
            )
            report = check_lag(request, self.clock, self._store)
            reports[queue.name] = report
            self._log_change(queue.name, report)
        return reports

    def _log_change(self, queue: str, report: LagReport) -> None:
        status = report.report.status.name
        if self._daemon is None or self._last.get(queue) == status:
            return
        self._last[queue] = status
        message = "; ".join(p.message for p in report.report.probes)
        self._daemon.log.emit(
            self.clock.now(), "kafka.lag", level="info" if status == "OK" else "warning",
            queue=queue, status=status, message=message,
        )  # fmt: skip

    def _failed(self, exc: BaseException) -> None:
        if self._daemon is not None:
            self._daemon.log.emit(
                self.clock.now(), "kafka.lag_failed", level="warning", error=str(exc)
            )


def kafka_hooks(db_url: str, config: Config, clock: Clock) -> list[Hook]:
    """The sampler, when `kafka.sample_interval` and kafka queues are configured and the
    `kafka` extra is installed; else nothing."""
    if not (config.kafka.sample_interval and config.kafka.queues and client_available()):
        return []
    return [KafkaSamplerHook(db_url, config.kafka, clock)]
