"""The daemon's history retention: a `Periodic` thread with its own store connection runs
a retention pass (ops.retention) every few minutes, in small batches and short
transactions, so dispatch never waits for it. Stopping the daemon stops it between batches.
In a cluster one daemon per period does it (the `retention` chore)."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import TYPE_CHECKING

from jobctl.clock import Clock
from jobctl.config.model import Config
from jobctl.ops.audit import current_actor
from jobctl.runtime.hooks import Hook, Periodic
from jobctl.store import open_store

if TYPE_CHECKING:  # the sweep engine loads on the first pass, off the daemon's start-up
    from jobctl.ops.retention import Swept
    from jobctl.ops.sweep_engine import RunOptions
    from jobctl.runtime.daemon import Daemon
    from jobctl.store.protocol import Store

INTERVAL_S = 600.0


class RetentionHook(Hook):
    name = "retention"

    def __init__(
        self,
        db_url: str,
        config: Config,
        clock: Clock,
        interval: float = INTERVAL_S,
        options: RunOptions | None = None,  # None: ops.retention.DAEMON_OPTIONS
    ) -> None:
        self.db_url, self.clock, self.interval, self.options = db_url, clock, interval, options
        self.retention = dict(config.retention)
        self._store: Store | None = None
        self._stopping = threading.Event()
        self._periodic: Periodic | None = None
        self._daemon: Daemon | None = None

    def on_start(self, daemon: Daemon, now: datetime) -> None:
        self._daemon = daemon
        self._periodic = Periodic("jobctl-retention", self.interval, self.work, self._failed)
        self._periodic.start()

    def on_reload(self, config: Config, now: datetime) -> None:
        self.retention = dict(config.retention)

    def on_stop(self, now: datetime) -> None:
        self._stopping.set()
        if self._periodic is not None:
            self._periodic.stop(timeout=10.0)
        if self._store is not None:
            self._store.close()
            self._store = None

    def work(self) -> list[Swept]:
        """One retention pass (on the caller's thread, with this hook's own connection)."""
        if not self.retention or self._stopping.is_set():
            return []
        from jobctl.ops.retention import DAEMON_OPTIONS, expire_history

        if self._store is None:
            self._store = open_store(self.db_url)
        if self._daemon is not None and not self._holds_chore(self._store):
            return []
        swept = expire_history(
            self._store,
            self.db_url,
            self.retention,
            self.clock,
            current_actor(),
            self.options or DAEMON_OPTIONS,
            self._stopping.is_set,
        )
        if self._daemon is not None:
            for s in swept:
                self._daemon.log.emit(
                    self.clock.now(), "retention.swept", state=s.state, sweep_id=s.sweep_id,
                    deleted=s.deleted, skipped=s.skipped, files=s.files,
                )  # fmt: skip
        return swept

    def _holds_chore(self, store: Store) -> bool:
        """Whether this daemon does retention this period (one node per cluster does): a
        lease on the chore, renewed each pass, timed by the database's clock."""
        assert self._daemon is not None
        now = store.now()
        return (
            store.chores.hold("retention", self._daemon.runner, now, 1.5 * self.interval)
            is not None
        )

    def _failed(self, exc: BaseException) -> None:
        if self._daemon is not None:
            self._daemon.log.emit(
                self.clock.now(), "retention.failed", level="warning", error=str(exc)
            )


def retention_hooks(db_url: str, config: Config, clock: Clock) -> list[Hook]:
    """The retention hook (idle while the config names no retention; SIGHUP may add it)."""
    return [RetentionHook(db_url, config, clock)]
