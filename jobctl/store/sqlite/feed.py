"""The change feed on SQLite: `PRAGMA data_version` says whether another connection
committed; inotify on the WAL file pushes a wake-up when one does.

Wake an idle daemon when another process commits to its SQLite DB, without polling.

Every commit in WAL mode writes `<db>-wal`; inotify reports that write. A small thread turns
each burst of events into wake() calls: one at once, then a few more over the next RECHECKS,
because the frames land before the writer's fsync, and the commit becomes visible (the WAL
index is updated) only once that returns, which takes tens of milliseconds on a busy disk.
Where inotify is unavailable the daemon keeps its short poll of PRAGMA data_version.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobctl.store.sqlite.database import SQLiteDatabase

IN_MODIFY = 0x00000002
IN_CREATE = 0x00000100
IN_MOVED_TO = 0x00000080
IN_CLOEXEC = 0o2000000
# seconds after a WAL write to wake the daemon again (then its idle poll takes over)
RECHECKS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16)
COALESCE = 0.001  # seconds the watcher pauses after a wake-up, letting a burst's events merge
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len; then `len` bytes of name


class WalWatcher:
    """Calls `wake` whenever the DB's WAL file is written (by anyone)."""

    def __init__(self, db_path: Path, wake: Callable[[], None]) -> None:
        self.wal_name = (db_path.name + "-wal").encode()
        self.directory = db_path.parent
        self.wake = wake
        self._fd = -1
        self._stop_r, self._stop_w = -1, -1
        self._thread: threading.Thread | None = None

    def start(self) -> bool:
        """Start watching; False (and nothing started) where inotify cannot be used."""
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = libc.inotify_init1(IN_CLOEXEC)
            if fd < 0:
                return False
            mask = IN_MODIFY | IN_CREATE | IN_MOVED_TO
            if libc.inotify_add_watch(fd, bytes(self.directory), mask) < 0:
                os.close(fd)
                return False
        except (OSError, AttributeError):
            return False
        self._fd = fd
        self._stop_r, self._stop_w = os.pipe2(os.O_CLOEXEC)
        self._thread = threading.Thread(target=self._run, name="wal-watch", daemon=True)
        self._thread.start()
        return True

    def _run(self) -> None:
        due: list[float] = []  # when to wake again (monotonic), after the last WAL write
        while True:
            timeout = max(0.0, due[0] - time.monotonic()) if due else None
            ready, _, _ = select.select([self._fd, self._stop_r], [], [], timeout)
            if self._stop_r in ready:
                return
            if self._fd not in ready:
                self.wake()  # another look: the commit may be visible by now
                now = time.monotonic()
                due = [at for at in due if at > now]
                continue
            try:
                data = os.read(self._fd, 65536)
            except OSError:
                return
            if self._mentions_wal(data):
                self.wake()
                now = time.monotonic()
                due = [now + delay for delay in RECHECKS]
                # One commit writes many frames, one event each: while this thread pauses,
                # the kernel merges the rest into one (the wake is out; a recheck follows).
                time.sleep(COALESCE)

    def _mentions_wal(self, data: bytes) -> bool:
        offset = 0
        while offset + _EVENT.size <= len(data):
            _wd, _mask, _cookie, length = _EVENT.unpack_from(data, offset)
            name = data[offset + _EVENT.size : offset + _EVENT.size + length].rstrip(b"\0")
            if name == self.wal_name:
                return True
            offset += _EVENT.size + length
        return False

    def close(self) -> None:
        if self._thread is not None:
            os.write(self._stop_w, b"x")
            self._thread.join(timeout=2)
            self._thread = None
        for fd in (self._fd, self._stop_r, self._stop_w):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._fd = self._stop_r = self._stop_w = -1


class SQLiteFeed:
    """The store's change feed (see store/protocol.py `ChangeFeed`) over one connection."""

    rescan: float | None = None  # changes are seen by data_version; no extra rescans needed

    def __init__(self, db: SQLiteDatabase) -> None:
        self.db = db
        self._version: int | None = None
        self._watcher: WalWatcher | None = None

    def start(self, wake: Callable[[], None]) -> bool:
        self._watcher = WalWatcher(self.db.path, wake)
        if self._watcher.start():
            return True
        self._watcher = None
        return False

    def changed(self) -> bool:
        version = self.db.data_version()
        changed, self._version = version != self._version, version
        return changed

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None
