"""Per-schedule ping URLs in the healthchecks.io convention, so a dead host is noticed off
host: `URL/start?rid=RUN` when a run's attempt starts, `URL?rid=RUN` when it succeeds,
`URL/EXIT_CODE?rid=RUN` (or `URL/fail`) when it ends dead. RUN is a UUID per job.

Best effort on a small pool of its own (two tries, a few seconds each): a ping is a
heartbeat for a watcher elsewhere, not a durable event, and never slows dispatch.
"""

from __future__ import annotations

import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING

from jobctl.domain.job import Job, State
from jobctl.runtime.hooks import Hook

if TYPE_CHECKING:
    from jobctl.runtime.daemon import Daemon
    from jobctl.store.repos.dispatch import Finish

TIMEOUT = 5.0
TRIES = 2
REFRESH = 5.0  # seconds between checks for changed schedules (their ping URLs)


def ping_url(base: str, suffix: str, run_id: str) -> str:
    """`base` + `/suffix` (none for success) + `?rid=run_id` (healthchecks.io)."""
    url = base.rstrip("/") + (f"/{suffix}" if suffix else "")
    return f"{url}{'&' if '?' in url else '?'}rid={run_id}"


def run_id(job: Job) -> str:
    """A stable UUID per job: its start and end pings pair up at the receiver."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"jobctl-job:{job.id}"))


class PingHook(Hook):
    name = "pings"

    def __init__(self) -> None:
        self._daemon: Daemon | None = None
        self._urls: dict[str, str] = {}
        self._marker: object = None
        self._checked = float("-inf")
        self._pool: ThreadPoolExecutor | None = None

    def on_start(self, daemon: Daemon, now: datetime) -> None:
        self._daemon = daemon
        self._pool = ThreadPoolExecutor(2, thread_name_prefix="jobctl-ping")

    def _url(self, job: Job) -> str | None:
        if job.schedule is None or self._daemon is None:
            return None
        mono = self._daemon.clock.monotonic()
        if mono - self._checked >= REFRESH:
            self._checked = mono
            marker = self._daemon.store.schedules.changed_marker()
            if marker != self._marker:
                self._marker = marker
                found = self._daemon.store.schedules.list()
                self._urls = {s.name: s.ping for s in found if s.ping}
        return self._urls.get(job.schedule)

    def on_claimed(self, job: Job, now: datetime) -> None:
        base = self._url(job)
        if base:
            self._ping(ping_url(base, "start", run_id(job)))

    def on_finished(self, job: Job, finish: Finish, now: datetime) -> None:
        base = self._url(job)
        state = finish.decision.state
        if not base or state not in (State.SUCCEEDED, State.DEAD):
            return
        if state is State.SUCCEEDED:
            suffix = ""
        else:
            suffix = str(finish.exit_code) if finish.exit_code not in (None, 0) else "fail"
        self._ping(ping_url(base, suffix, run_id(job)))

    def _ping(self, url: str) -> None:
        if self._pool is not None:
            self._pool.submit(self._send, url)

    def _send(self, url: str) -> None:
        for _ in range(TRIES):
            try:
                with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
                    response.read(64)
                return
            except OSError:
                continue
        if self._daemon is not None:
            host = url.split("/")[2] if "://" in url else "?"
            self._daemon.log.emit(
                self._daemon.clock.now(), "ping.failed", level="warning", host=host
            )

    def on_stop(self, now: datetime) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=False)
