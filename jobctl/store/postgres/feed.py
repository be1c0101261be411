"""The change feed on PostgreSQL: LISTEN on the schema's channel over one dedicated
connection per daemon; writers NOTIFY from the transaction that made work ready.

With `?poll=` in the URL (PgBouncer in transaction mode cannot LISTEN) nothing listens and
the daemon's periodic rescan at that interval finds new work instead.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg

from jobctl.store.postgres.connection import PgUrl, connect

RECONNECT_MAX = 5.0  # seconds between attempts to listen again after the server went away


class ListenFeed:
    """Calls `wake` on every notification for this schema; `changed()` says whether any
    arrived since the last call. The listening thread reconnects with backoff."""

    def __init__(self, url: PgUrl) -> None:
        self.url = url
        self.rescan = url.poll  # None: pushed; else how often to look for work anyway
        self._changed = True
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._raw: psycopg.Connection[Any] | None = None

    def start(self, wake: Callable[[], None]) -> bool:
        """Listen in a thread; False (nothing started) in poll mode."""
        if self.url.poll is not None:
            return False
        self._thread = threading.Thread(
            target=self._run, args=(wake,), name="pg-listen", daemon=True
        )
        self._thread.start()
        return True

    def _run(self, wake: Callable[[], None]) -> None:
        delay = 0.1
        while not self._stop.is_set():
            try:
                self._raw = connect(self.url)
                self._raw.execute(f'LISTEN "{self.url.channel}"')
                delay = 0.1
                self._mark(wake)  # anything may have happened while we were not listening
                while not self._stop.is_set():
                    for _note in self._raw.notifies(timeout=1.0):
                        self._mark(wake)
            except Exception:  # the server went away: listen again after a pause
                if self._stop.is_set():
                    return
                time.sleep(delay)
                delay = min(RECONNECT_MAX, delay * 2)
            finally:
                raw, self._raw = self._raw, None
                if raw is not None:
                    raw.close()

    def _mark(self, wake: Callable[[], None]) -> None:
        with self._lock:
            self._changed = True
        wake()

    def changed(self) -> bool:
        """Whether a notification came since the last call; always True when nothing
        listens (not started, or poll mode): the caller then re-reads each time."""
        if self._thread is None:
            return True
        with self._lock:
            changed, self._changed = self._changed, False
        return changed

    def close(self) -> None:
        self._stop.set()  # the thread notices within a second
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
