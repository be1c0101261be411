"""CMD never outlives its wrapper (`lock`, `once run`), even when the wrapper is killed -9.

Two mechanisms, because a kill -9 leaves the wrapper no last word:
- CMD's main process gets a parent-death signal (SIGKILL, set before it execs: spawn.py);
- a small guard process, started before CMD in a session of its own (so signals aimed at the
  wrapper's group or terminal miss it), holds the read end of a pipe only the wrapper writes
  to. The wrapper tells it CMD's pid and start time, and "done" once CMD and its group have
  ended. End of file without "done" means the wrapper died: the guard kills CMD's whole
  session and process group, with their descendants, and exits.
Run as `python -m jobctl.runtime.tether` (stdin: the pipe) by Tether.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from types import TracebackType

from jobctl.errors import JobctlError
from jobctl.runtime import proctree
from jobctl.runtime.spawn import SpawnError, spawn

DONE = b"done\n"


class Tether:
    """The wrapper's side: start the guard, name CMD to it, release it (a context manager:
    leaving without release() makes the guard end CMD)."""

    def __init__(self) -> None:
        self._fd = -1
        self._guard = 0
        self._released = False

    def __enter__(self) -> Tether:
        read_end, self._fd = os.pipe2(os.O_CLOEXEC)
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        argv = [sys.executable, "-P", "-m", "jobctl.runtime.tether"]  # -P: not from the cwd
        try:
            self._guard, _ = spawn(argv, dict(os.environ), None, read_end, null)
        except SpawnError as exc:
            os.close(self._fd)
            raise JobctlError(f"cannot start the guard that ends CMD with us: {exc}") from None
        finally:
            os.close(read_end)
            os.close(null)
        return self

    def hold(self, pid: int, start: int | None) -> None:
        """CMD runs as `pid` (started at `start` ticks): the guard ends it if we die."""
        self._send(f"{pid} {start or 0}\n".encode())

    def release(self) -> None:
        """CMD and its group have ended: the guard has nothing left to do."""
        self._released = True
        self._send(DONE)

    def _send(self, data: bytes) -> None:
        with contextlib.suppress(OSError):  # a guard already gone cannot be told anything
            os.write(self._fd, data)

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        os.close(self._fd)  # the guard sees end of file: done, or it ends CMD now
        if self._released:  # no need to wait for it to start up and read "done"
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._guard, signal.SIGKILL)  # our unreaped child: the pid is its own
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self._guard, 0)


def guard() -> None:
    """The guard's side: read CMD's pid from stdin until end of file; unless told "done",
    kill CMD's session and group with their descendants (its wrapper was killed)."""
    pid = start = 0
    for line in sys.stdin.buffer:
        if line == DONE:
            return
        with contextlib.suppress(ValueError):
            pid, start = (int(part) for part in line.split())
    if pid:
        proctree.kill_tree(pid, 0.0, start)


if __name__ == "__main__":
    os.chdir("/")  # hold no directory busy
    guard()
