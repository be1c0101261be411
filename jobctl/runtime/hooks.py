"""Lifecycle hooks: metrics, audit, retention, the HTTP server and other cross-cutting
concerns observe the daemon without living inside its loop (dramatiq's middleware).

A hook overrides only what it needs. The daemon calls hooks on its own thread, so a hook
must be quick; slow work belongs on a `Periodic` thread with its own store connection.
A hook that raises is logged and never takes the daemon down.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from jobctl.config.model import Config
from jobctl.domain.job import Job

if TYPE_CHECKING:
    from jobctl.runtime.daemon import Daemon
    from jobctl.store.repos.dispatch import Finish


class Hook:
    """No-op base: the daemon's lifecycle events."""

    name = "hook"

    def on_start(self, daemon: Daemon, now: datetime) -> None:
        """The daemon registered itself and is about to claim its first jobs."""

    def on_claimed(self, job: Job, now: datetime) -> None:
        """`job` was claimed by this daemon and its attempt is starting."""

    def on_finished(self, job: Job, finish: Finish, now: datetime) -> None:
        """An attempt of `job` ended and its outcome is committed."""

    def on_reload(self, config: Config, now: datetime) -> None:
        """SIGHUP: the config was reloaded successfully."""

    def on_stop(self, now: datetime) -> None:
        """The daemon is stopping (after draining); release threads and sockets."""


class Periodic:
    """Run `work()` every `interval` seconds on a daemon thread until `stop()`. An exception
    is passed to `on_error` and the loop goes on."""

    def __init__(
        self,
        name: str,
        interval: float,
        work: Callable[[], object],  # its result is dropped
        on_error: Callable[[BaseException], None],
    ) -> None:
        self.interval, self.work, self.on_error = interval, work, on_error
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.work()
            except Exception as exc:
                self.on_error(exc)
            self._stop.wait(self.interval)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
