"""Run one command in the foreground under a renewed lease: `once run` and `lock`.

CMD leads its own session (as a job's attempt does). Its stdout and stderr pass through to
ours; with a log path they are also captured (capped, tail kept) like a job's output.
SIGTERM, SIGINT, SIGHUP and SIGQUIT sent to the wrapper are forwarded to CMD's process
group; the wrapper returns once CMD has ended. `renew` is called every `every` seconds
while CMD runs. What CMD leaves running in its group is terminated when it exits. CMD never
outlives the wrapper: if the wrapper dies (kill -9), CMD's session is killed (tether.py), so
a lease that expires never has a live holder.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import selectors
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from jobctl.clock import Clock
from jobctl.runtime.logcap import CappedLog
from jobctl.runtime.proctree import process_start_ticks
from jobctl.runtime.spawn import SpawnError, spawn
from jobctl.runtime.tether import Tether

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)
DRAIN = 0.5  # seconds to wait for the output pipes once CMD exited, before its group is ended
STRAGGLER_GRACE = 2.0  # then SIGKILL what is left of CMD's group
READ_SIZE = 1 << 16


@dataclass(frozen=True)
class Wrapped:
    """How CMD ended."""

    exit_code: int | None  # None when killed by a signal or not started
    signal: int | None
    spawn_error: str | None
    output_tail: bytes
    log_path: Path | None  # None when nothing was captured

    @property
    def wrapper_code(self) -> int:
        """The wrapper's exit code: CMD's, 128+N for signal N, 127/126 when it did not start."""
        if self.signal is not None:
            return 128 + self.signal
        if self.spawn_error is not None:
            return 127 if "not found" in self.spawn_error else 126
        return self.exit_code if self.exit_code is not None else 1


@dataclass(frozen=True)
class Lease:
    """Called every `every` seconds while CMD runs; returns False once the lease is lost."""

    renew: Callable[[], bool]
    every: float


def _high_dup(fd: int) -> int:
    """A close-on-exec copy of `fd` numbered above 2 (posix_spawn then needs no fallback);
    /dev/null when `fd` is closed."""
    try:
        return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    except OSError:
        return os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)


@contextlib.contextmanager
def _forwarding(target: list[int]) -> Iterator[list[int]]:
    """While inside: the signals in FORWARDED go to process group target[0] (once known);
    those received before it is known are replayed by the caller."""
    pending: list[int] = []

    def forward(signum: int, _frame: FrameType | None) -> None:
        if target:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(target[0], signum)
        else:
            pending.append(signum)

    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED}
    try:
        yield pending
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_wrapped(
    argv: list[str],
    env: dict[str, str],
    clock: Clock,
    lease: Lease,
    log_path: Path | None = None,
    log_cap: int = 10 * 1024 * 1024,
    on_start: Callable[[int, int | None], None] | None = None,
) -> Wrapped:
    """Run `argv` to its end (see the module docstring); `on_start(pid, start_ticks)` is
    called once it runs."""
    stdin = _high_dup(0)
    outs = [_high_dup(1), _high_dup(2)]
    pipes: list[tuple[int, int]] = []
    try:
        if log_path is not None:
            pipes = [os.pipe2(os.O_CLOEXEC), os.pipe2(os.O_CLOEXEC)]
        child_out, child_err = (pipes[0][1], pipes[1][1]) if pipes else outs
        target: list[int] = []
        with Tether() as tether, _forwarding(target) as pending:
            try:
                pid, popen = spawn(
                    argv, env, None, stdin, child_out, err_fd=child_err, die_with_parent=True
                )
            except SpawnError as exc:
                tether.release()
                return Wrapped(None, None, str(exc), b"", None)
            finally:
                for _, write_end in pipes:
                    os.close(write_end)
            start = process_start_ticks(pid)
            tether.hold(pid, start)
            target.append(pid)
            for signum in pending:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signum)
            if on_start is not None:
                on_start(pid, start)
            log = CappedLog(log_path, log_cap) if log_path is not None else None
            tees = [(r, o) for (r, _), o in zip(pipes, outs, strict=False)]
            status = _supervise(pid, tees, log, clock, lease)
            tether.release()
            if popen is not None:
                popen.returncode = os.waitstatus_to_exitcode(status)
    finally:
        for fd in [stdin, *outs, *(r for r, _ in pipes)]:
            with contextlib.suppress(OSError):
                os.close(fd)
    code = os.waitstatus_to_exitcode(status)
    tail = log.tail() if log is not None else b""
    kept = log_path if log is not None and log.total else None
    return Wrapped(code if code >= 0 else None, -code if code < 0 else None, None, tail, kept)


def _supervise(
    pid: int, pipes: list[tuple[int, int]], log: CappedLog | None, clock: Clock, lease: Lease
) -> int:
    """Pump output, renew the lease and reap CMD; then end what its group left holding the
    output. Returns CMD's wait status."""
    sel = selectors.DefaultSelector()
    pidfd = os.pidfd_open(pid)
    sel.register(pidfd, selectors.EVENT_READ, None)
    for read_end, out in pipes:
        os.set_blocking(read_end, False)
        sel.register(read_end, selectors.EVENT_READ, out)
    status: int | None = None
    try:
        next_renew = clock.monotonic() + lease.every
        while status is None:
            for key, _ in sel.select(max(0.0, next_renew - clock.monotonic())):
                if key.data is None:
                    status = os.waitpid(pid, 0)[1]
                    sel.unregister(pidfd)
                else:
                    _pump(sel, key.fd, key.data, log)
            if status is None and clock.monotonic() >= next_renew:
                lease.renew()
                next_renew = clock.monotonic() + lease.every
        for sig in (None, signal.SIGTERM, signal.SIGKILL):
            if sig is not None:
                _signal_group(pid, sig)
            _drain(sel, log, clock, DRAIN if sig is None else STRAGGLER_GRACE)
            if not sel.get_map():
                break
    finally:
        for key in list(sel.get_map().values()):
            sel.unregister(key.fd)
        sel.close()
        os.close(pidfd)
        if log is not None:
            log.close()
    return status


def _drain(sel: selectors.BaseSelector, log: CappedLog | None, clock: Clock, for_: float) -> None:
    """Pump the output pipes until both reach EOF or `for_` seconds pass."""
    end = clock.monotonic() + for_
    while sel.get_map() and (left := end - clock.monotonic()) > 0:
        for key, _ in sel.select(left):
            _pump(sel, key.fd, key.data, log)


def _pump(sel: selectors.BaseSelector, fd: int, out: int, log: CappedLog | None) -> None:
    try:
        data = os.read(fd, READ_SIZE)
    except BlockingIOError:
        return
    except OSError:
        data = b""
    if not data:
        sel.unregister(fd)
        return
    if log is not None:
        log.write(data)
    with contextlib.suppress(OSError):  # a closed terminal must not stop CMD or its capture
        view = memoryview(data)
        while view:
            view = view[os.write(out, view) :]


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
