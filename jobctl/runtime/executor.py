"""Run job attempts as subprocesses, many at once, from one thread.

One selector watches each attempt's pidfd (its main process exited) and output pipe, plus an
eventfd for wake(). poll() pumps output into capped logs, reaps exits with wait4, enforces
timeouts with SIGTERM → SIGKILL escalation, and returns the attempts that completed. No thread
per child; nothing here knows about the database. How an attempt ends, and what happens to the
processes its main process leaves behind, is in attempt.py: none survives its completion.
"""

from __future__ import annotations

import contextlib
import math
import os
import selectors
import signal
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path

from jobctl.runtime.attempt import Attempt
from jobctl.runtime.logcap import CappedLog, OnDisk
from jobctl.runtime.proctree import kill_tree, process_start_ticks
from jobctl.runtime.spawn import SpawnError, spawn

__all__ = ["AttemptResult", "Executor", "Launch", "kill_tree", "process_start_ticks"]

_EXIT, _OUTPUT = 0, 1


@dataclass(frozen=True)
class Launch:
    """What to run for one attempt."""

    argv: list[str]  # already resolved; executed without a shell
    env: dict[str, str]  # the complete environment of the child
    log_path: Path  # stdout+stderr, interleaved (parent directories are created)
    cwd: str | None = None
    stdin: bytes = b""  # the payload, then EOF
    timeout: float | None = None  # seconds; on expiry the whole process tree is killed
    kill_grace: float = 5.0  # SIGTERM → SIGKILL delay on timeout, cancel and stragglers
    log_cap: int = 10 * 1024 * 1024  # bytes kept on disk (the tail); <= 0: no cap
    user: str | None = None  # run as this user (the daemon must be root), never as root then
    group: str | None = None


@dataclass(frozen=True)
class AttemptResult:
    """How one attempt ended."""

    exit_code: int | None  # None when killed by a signal, timed out or not spawned
    signal: int | None  # the signal that killed the main process
    timed_out: bool
    cancelled: bool
    spawn_error: str | None  # one line, e.g. "command not found: nosuchcmd"
    pid: int | None
    pid_start: int | None  # field 22 of /proc/PID/stat: (pid, pid_start) names the process
    duration: float  # seconds, from start() to completion
    max_rss: int | None  # bytes, peak RSS of the main process
    cpu_seconds: float | None  # user + system time of the main process (and reaped children)
    output_tail: bytes  # the last 4096 bytes of output
    output_bytes: int  # total bytes of output
    output_on_disk: OnDisk = field(default_factory=OnDisk)  # where the closed log keeps it


class Executor:
    """Runs attempts as subprocesses (see the module docstring). Every method but wake() must
    be called from one thread. `monotonic` drives timeouts and kill deadlines; poll()'s wait
    itself is real time."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._mono = monotonic
        self._closed = False
        self._sel = selectors.DefaultSelector()
        self._wake_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._sel.register(self._wake_fd, selectors.EVENT_READ, None)
        self._null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        self._attempts: dict[Hashable, Attempt] = {}
        self._timed: set[Attempt] = set()
        self._done: list[tuple[Hashable, AttemptResult]] = []
        self._unasked: set[Hashable] = set()  # begun; pid_start(key) not asked yet
        self._ticks: dict[Hashable, int] = {}  # their start times, once completed

    # --- public API ----------------------------------------------------------------------
    def start(self, key: Hashable, launch: Launch) -> tuple[int, int] | None:
        """Spawn the attempt as leader of a new session; returns (pid, pid_start), or None
        when spawning failed (the next poll() then returns its result with spawn_error).
        `key` must not be in flight (ValueError)."""
        pid = self.begin(key, launch)
        if pid is None:
            return None
        return pid, self.pid_start(key) or 0

    def begin(self, key: Hashable, launch: Launch) -> int | None:
        """start() without reading the process's start time: returns the pid (None when
        spawning failed); pid_start(key) gives the start time later."""
        if self._closed:
            raise RuntimeError("executor is closed")
        if key in self._attempts or any(k == key for k, _ in self._done):
            raise ValueError(f"attempt {key!r} is already in flight")
        started = self._mono()
        log = CappedLog(launch.log_path, launch.log_cap)  # created on the first byte
        att = Attempt(key, launch, log, started)
        try:
            self._spawn(att)
        except SpawnError as exc:
            self._fail(key, started, log, str(exc))
            return None
        self._sel.register(att.pidfd, selectors.EVENT_READ, (_EXIT, att))
        assert att.rfd is not None  # _spawn opened the pipe
        self._sel.register(att.rfd, selectors.EVENT_READ, (_OUTPUT, att))
        self._attempts[key] = att
        self._unasked.add(key)
        self._track(att, False)
        return att.pid

    def cancel(self, key: Hashable) -> None:
        """Terminate the attempt's process tree (SIGTERM, SIGKILL after kill_grace); its result
        has cancelled=True. No-op for an unknown key or one whose main process has exited."""
        att = self._attempts.get(key)
        if att is None or att.reaped:
            return
        att.cancelled = True
        if not att.terminating:
            att.terminate(self._mono(), att.launch.kill_grace)
            self._track(att, False)

    def poll(self, timeout: float) -> list[tuple[Hashable, AttemptResult]]:
        """Wait up to `timeout` seconds, pumping output, reaping exits and enforcing deadlines;
        return as soon as attempts completed (those are returned) or wake() was called."""
        if self._closed:
            raise RuntimeError("executor is closed")
        results = self._take()
        end = time.monotonic() + max(timeout, 0.0)
        woke = False
        while True:
            wait = 0.0 if results or woke else max(0.0, end - time.monotonic())
            if self._timed and wait > 0:
                wait = min(wait, max(0.0, min(a.due() for a in self._timed) - self._mono()))
            for sel_key, _ in self._sel.select(wait):
                if sel_key.data is None:
                    woke = True
                    with contextlib.suppress(BlockingIOError):
                        os.eventfd_read(self._wake_fd)
                else:
                    att: Attempt
                    kind, att = sel_key.data
                    if self._attempts.get(att.key) is not att:
                        continue  # completed earlier in this batch
                    if kind == _EXIT:
                        self._track(att, att.on_exit(self._sel, self._mono()))
                    else:
                        self._track(att, att.on_output(self._sel, self._mono()))
            if self._timed:
                self._run_timers()
            results += self._take()
            if results or woke or time.monotonic() >= end:
                return results

    def wake(self) -> None:
        """Make a blocked poll() return promptly. Thread-safe (and async-signal-safe)."""
        if not self._closed:
            with contextlib.suppress(OSError):
                os.eventfd_write(self._wake_fd, 1)

    def on_disk(self, key: Hashable) -> OnDisk | None:
        """Where the output of the attempt in flight is on disk so far (None: not in flight)."""
        att = self._attempts.get(key)
        return None if att is None else att.log.on_disk()

    def pid_start(self, key: Hashable) -> int | None:
        """The start time (field 22 of /proc/PID/stat) of the main process of attempt `key`
        begun with begin(), asked once: in flight or completed (poll() may have returned
        it already: its result holds the same); None for an unknown key."""
        self._unasked.discard(key)
        if key in self._ticks:
            return self._ticks.pop(key)
        att = self._attempts.get(key)
        if att is not None:
            return att.pid_start
        return next((r.pid_start for k, r in self._done if k == key), None)

    def running(self) -> dict[Hashable, tuple[int, int]]:
        """key → (pid, pid_start) of the attempts in flight."""
        return {k: (a.pid, a.pid_start) for k, a in self._attempts.items()}

    def __len__(self) -> int:
        """Attempts whose results poll() has yet to return."""
        return len(self._attempts) + len(self._done)

    def shutdown(self, grace: float) -> list[tuple[Hashable, AttemptResult]]:
        """Terminate everything in flight (SIGTERM, SIGKILL after `grace`), wait for it, and
        return all results not yet returned; attempts terminated here have cancelled=True."""
        if self._closed:
            return []
        now = self._mono()
        for att in list(self._attempts.values()):
            if not att.reaped:
                att.cancelled = True
                if not att.terminating:
                    att.terminate(now, grace)
            if not att.killed:
                att.kill_at = min(att.kill_at, now + grace)
            self._track(att, False)
        results = self._take()
        # The injected clock may stand still (tests): bound each phase in real time too.
        real_end = time.monotonic() + grace
        for phase in ("grace", "killed"):
            while self._attempts and time.monotonic() < real_end:
                results += self.poll(min(0.05, max(0.0, real_end - time.monotonic())))
            for att in [a for a in self._attempts.values() if not a.killed]:
                att.kill(self._sel, self._mono())
                self._track(att, False)
            real_end = time.monotonic() + (2.0 if phase == "grace" else 0.0)
        for att in list(self._attempts.values()):  # unkillable (D state): give up on it
            self._track(att, True)
        return results + self._take()

    def close(self) -> None:
        """Kill whatever is still running (no grace), release every fd. Idempotent."""
        if self._closed:
            return
        if self._attempts:
            self.shutdown(0.0)
        self._done.clear()
        self._unasked.clear()
        self._ticks.clear()
        self._closed = True
        self._sel.close()
        os.close(self._wake_fd)
        os.close(self._null)

    # --- spawning ------------------------------------------------------------------------
    def _stdin(self, payload: bytes) -> int:
        """An fd to read the payload from: a memfd (never blocks the loop, unlike a pipe)."""
        if not payload:
            return self._null
        fd = os.memfd_create("jobctl-stdin", os.MFD_CLOEXEC)
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view) :]
            os.lseek(fd, 0, os.SEEK_SET)
        except OSError:
            os.close(fd)
            raise
        return fd

    def _spawn(self, att: Attempt) -> None:
        """Start the attempt's process, with its output pipe and pidfd. On SpawnError nothing
        is left open or running."""
        launch = att.launch
        try:
            rfd, wfd = os.pipe2(os.O_CLOEXEC)
        except OSError as exc:
            raise SpawnError(f"cannot create the output pipe: {exc.strerror}") from None
        try:
            stdin_fd = self._stdin(launch.stdin)
            try:
                att.pid, att.popen = spawn(
                    launch.argv, launch.env, launch.cwd, stdin_fd, wfd, launch.user, launch.group
                )
            finally:
                if stdin_fd != self._null:
                    os.close(stdin_fd)
        except BaseException as exc:
            os.close(rfd)
            if isinstance(exc, OSError):
                raise SpawnError(f"cannot pass the payload: {exc.strerror}") from None
            raise
        finally:
            os.close(wfd)
        att.rfd = rfd
        os.set_blocking(rfd, False)
        try:
            att.pidfd = os.pidfd_open(att.pid)
        except OSError as exc:  # out of fds? Never leave a process running unwatched.
            os.killpg(att.pid, signal.SIGKILL)
            os.wait4(att.pid, 0)
            if att.popen is not None:
                att.popen.returncode = -signal.SIGKILL
            os.close(rfd)
            raise SpawnError(f"cannot watch the process: {exc.strerror}") from None

    def _fail(self, key: Hashable, started: float, log: CappedLog | None, why: str) -> None:
        if log is not None:
            log.note(f"[jobctl: spawn failed: {why}]\n")
            log.close()
        result = AttemptResult(
            exit_code=None, signal=None, timed_out=False, cancelled=False, spawn_error=why,
            pid=None, pid_start=None, duration=self._mono() - started, max_rss=None,
            cpu_seconds=None, output_tail=b"", output_bytes=0,
            output_on_disk=log.on_disk() if log is not None else OnDisk(),
        )  # fmt: skip
        self._done.append((key, result))

    # --- events --------------------------------------------------------------------------
    def _run_timers(self) -> None:
        now = self._mono()
        for att in [a for a in self._timed if a.due() <= now]:
            self._track(att, att.on_timer(self._sel, now))

    def _track(self, att: Attempt, complete: bool) -> None:
        """After an attempt's state changed: complete it, or (un)list it for timers."""
        if complete:
            att.finish(self._sel)
            self._timed.discard(att)
            del self._attempts[att.key]
            if att.key in self._unasked:
                self._unasked.discard(att.key)
                self._ticks[att.key] = att.pid_start
            self._done.append((att.key, self._result(att)))
        elif att.due() < math.inf:
            self._timed.add(att)
        else:
            self._timed.discard(att)

    def _result(self, att: Attempt) -> AttemptResult:
        exit_code = sig = None
        if att.status is not None:
            code = os.waitstatus_to_exitcode(att.status)
            exit_code, sig = (code, None) if code >= 0 else (None, -code)
        ru = att.rusage
        return AttemptResult(
            exit_code=None if att.timed_out else exit_code, signal=sig, timed_out=att.timed_out,
            cancelled=att.cancelled, spawn_error=None, pid=att.pid, pid_start=att.pid_start,
            duration=self._mono() - att.started,
            max_rss=ru.ru_maxrss * 1024 if ru is not None else None,
            cpu_seconds=ru.ru_utime + ru.ru_stime if ru is not None else None,
            output_tail=att.log.tail(), output_bytes=att.log.total,
            output_on_disk=att.log.on_disk(),
        )  # fmt: skip

    def _take(self) -> list[tuple[Hashable, AttemptResult]]:
        done, self._done = self._done, []
        return done
