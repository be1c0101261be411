"""One attempt in flight: its pidfd and pipe, its deadlines, and the processes left to end.

An attempt is *running* until its main process is reaped, then *settling* until its output
pipe reaches EOF and nothing it left behind is alive. Stragglers (its process group, or anyone
still holding the pipe for writing) get SIGTERM at once and SIGKILL when the grace is over;
then the pipe is closed without waiting for EOF, and the attempt completes once the killed
processes are gone (or KILL_WAIT later, for a process stuck in the kernel).

Methods that may end the attempt return True when it is complete; the Executor then calls
finish() and builds the result.
"""

from __future__ import annotations

import math
import os
import selectors
import signal
import subprocess
from collections.abc import Hashable
from typing import TYPE_CHECKING

from jobctl.runtime import proctree
from jobctl.runtime.logcap import CappedLog
from jobctl.runtime.proctree import KILL_WAIT, ProcInfo

if TYPE_CHECKING:
    from resource import struct_rusage

    from jobctl.runtime.executor import Launch

READ_SIZE = 1 << 16
READS_PER_EVENT = 16  # then the other attempts get a turn
SETTLE_CHECK = 0.05  # seconds between looks at stragglers that no longer hold the pipe


class Attempt:
    """Mutable state of one attempt; driven by the Executor's loop, never by another thread."""

    __slots__ = (
        "_pid_start", "cancelled", "checked", "deadline", "key", "kill_at", "killed", "launch",
        "log", "pid", "pidfd", "popen", "reaped", "recheck_at", "rfd", "rusage", "started",
        "status", "targets", "terminating", "timed_out",
    )  # fmt: skip

    def __init__(self, key: Hashable, launch: Launch, log: CappedLog, started: float) -> None:
        self.key, self.launch, self.log, self.started = key, launch, log, started
        self.pid = 0
        self._pid_start: int | None = None  # read on first use (start_ticks)
        self.pidfd = -1
        self.rfd: int | None = None  # output pipe, read end; None once closed
        self.popen: subprocess.Popen[bytes] | None = None
        self.status: int | None = None  # wait status, once reaped (None if unknown)
        self.rusage: struct_rusage | None = None
        self.deadline = math.inf if launch.timeout is None else started + launch.timeout
        self.kill_at = self.recheck_at = math.inf
        self.targets: list[ProcInfo] = []  # processes signalled: to escalate and to watch
        self.reaped = self.checked = False
        self.timed_out = self.cancelled = self.terminating = self.killed = False

    @property
    def pid_start(self) -> int:
        """Field 22 of the main process's /proc/PID/stat: (pid, pid_start) names it across
        pid reuse. Read on first use, and at the latest just before the process is reaped
        (until then it is readable, a zombie's too): right after the spawn the child is
        still starting, and the read would wait for it."""
        if self._pid_start is None:
            ticks = proctree.process_start_ticks(self.pid) if self.pid else None
            self._pid_start = ticks or 0
        return self._pid_start

    def due(self) -> float:
        """When the next timer of this attempt fires."""
        if not self.reaped:
            return self.kill_at if self.terminating else self.deadline
        return min(self.kill_at, self.recheck_at)

    # --- fds -----------------------------------------------------------------------------
    def pump(self, sel: selectors.BaseSelector) -> None:
        """Move what the pipe holds (a bounded amount) to the log; close the pipe at EOF."""
        rfd = self.rfd
        if rfd is None:
            return
        for _ in range(READS_PER_EVENT):
            try:
                data = os.read(rfd, READ_SIZE)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self.close_pipe(sel)
                return
            self.log.write(data)

    def close_pipe(self, sel: selectors.BaseSelector) -> None:
        if self.rfd is not None:
            sel.unregister(self.rfd)
            os.close(self.rfd)
            self.rfd = None

    def unwatch(self, sel: selectors.BaseSelector) -> None:
        """Stop watching the main process (it has exited, or we give up on it)."""
        self.reaped = True
        if self.pidfd >= 0:
            sel.unregister(self.pidfd)
            os.close(self.pidfd)
            self.pidfd = -1

    def finish(self, sel: selectors.BaseSelector) -> None:
        """Release the attempt's fds and close its log."""
        self.pump(sel)
        self.close_pipe(sel)
        self.unwatch(sel)
        self.log.close()

    # --- events --------------------------------------------------------------------------
    def on_exit(self, sel: selectors.BaseSelector, now: float) -> bool:
        """The pidfd says the main process exited: reap it, then settle."""
        if self.reaped:
            return False
        self.unwatch(sel)
        self.pid_start  # noqa: B018  (read while the zombie still names the process)
        try:
            _, self.status, self.rusage = os.wait4(self.pid, 0)
        except ChildProcessError:  # reaped behind our back (SIGCHLD ignored?): status unknown
            self.status = None
        if self.popen is not None:  # so that Popen does not think it still runs
            self.popen.returncode = os.waitstatus_to_exitcode(self.status or 0)
        self.pump(sel)
        return self.settle(sel, now)

    def on_output(self, sel: selectors.BaseSelector, now: float) -> bool:
        self.pump(sel)
        return self.rfd is None and self.reaped and self.settle(sel, now)

    def on_timer(self, sel: selectors.BaseSelector, now: float) -> bool:
        if not self.reaped:
            if self.terminating:
                self.kill(sel, now)  # the main process dies, is reaped, then settles
            else:
                self.timed_out = True
                self.terminate(now, self.launch.kill_grace)
            return False
        if self.kill_at <= now:
            if self.killed:
                return True  # KILL_WAIT is over: unkillable leftovers are not ours to wait for
            self.kill(sel, now)
            return False
        self.recheck_at = now + SETTLE_CHECK
        return self.settle(sel, now)

    # --- ending --------------------------------------------------------------------------
    def settle(self, sel: selectors.BaseSelector, now: float) -> bool:
        """After the main process is reaped: complete, or go after what it left behind."""
        if not self.checked:
            self.checked = True
            left = proctree.alive(self.targets) if self.targets else ()
            if self.rfd is None and not left and not proctree.group_exists(self.pid):
                return True  # the common case: one syscall, no /proc scan
            if self.killed:
                self.kill(sel, now)
                return False
            return self._hunt(now)
        if self.rfd is not None or proctree.alive(self.targets):
            return False
        more = self._members(None)  # forked since the last look?
        if not more:
            return True
        if self.killed:
            proctree.signal_members(None, more, signal.SIGKILL)
        else:
            proctree.terminate(None, more)
        self.targets = more
        return False

    def _hunt(self, now: float) -> bool:
        procs = self._stragglers()
        if not procs and self.rfd is None:
            return True  # only zombies left in the group
        if self.terminating:
            known = {p.pid for p in self.targets}
            proctree.terminate(None, [p for p in procs if p.pid not in known])
        else:
            self.terminating = True
            proctree.terminate(self._group(), procs)
            self.kill_at = now + self.launch.kill_grace
        self.targets = procs
        self.recheck_at = now + SETTLE_CHECK
        return False

    def terminate(self, now: float, grace: float) -> None:
        """SIGTERM the tree (descendants are listed first: they reparent once their parent
        dies), SIGKILL at now + grace."""
        self.terminating = True
        self.targets = self._members(None)
        proctree.terminate(self.pid, self.targets)  # not reaped: the pid is still its own
        self.kill_at = now + grace

    def kill(self, sel: selectors.BaseSelector, now: float) -> None:
        """The grace is over: SIGKILL everything; once reaped, stop waiting for EOF."""
        self.terminating = self.killed = True
        self.targets = self._stragglers()
        proctree.signal_members(self._group(), self.targets, signal.SIGKILL)
        if self.reaped:
            self.pump(sel)
            self.close_pipe(sel)
            self.kill_at, self.recheck_at = now + KILL_WAIT, now + 0.01
        else:
            self.kill_at = math.inf

    def _stragglers(self) -> list[ProcInfo]:
        inode = os.fstat(self.rfd).st_ino if self.rfd is not None else None
        return proctree.union(proctree.alive(self.targets), self._members(inode))

    def _members(self, pipe_inode: int | None) -> list[ProcInfo]:
        return proctree.members(self.pid, proctree.scan(), pipe_inode, self.pid_start)

    def _group(self) -> int | None:
        """The attempt's process group id, None once the pid was recycled (the id is kept
        while the group has members, so then the group is empty and the id not ours)."""
        return None if proctree.recycled(self.pid, self.pid_start) else self.pid
