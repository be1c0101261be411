"""Process trees on Linux, read from /proc: start times, an attempt's members, tree kills.

An attempt's main process leads its own session and process group, so its members are its
descendants, its group, its session and (once it has exited) whoever still holds its output
pipe. Zombies count as dead: nothing may be waiting to reap an orphan (PID 1 in a container).
Every process is identified by (pid, start ticks), so a recycled pid is never signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

_DEAD_STATES = (b"Z", b"X", b"x")
KILL_WAIT = 1.0  # seconds to wait for SIGKILLed processes to vanish before giving up on them


@dataclass(frozen=True, slots=True)
class ProcInfo:
    """One line of /proc/PID/stat, the fields we need."""

    pid: int
    ppid: int
    pgrp: int
    sid: int
    start: int  # field 22: start time in clock ticks since boot
    live: bool  # not a zombie


def read_stat(pid: int) -> ProcInfo | None:
    """The process's /proc/PID/stat, or None when it does not exist (or cannot be read)."""
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        data = os.read(fd, 4096)
    except OSError:
        return None
    finally:
        os.close(fd)
    # comm (field 2) may hold spaces and parentheses: the fields resume after the last ")".
    try:
        fields = data[data.rindex(b")") + 2 :].split()
        return ProcInfo(
            pid=pid, ppid=int(fields[1]), pgrp=int(fields[2]), sid=int(fields[3]),
            start=int(fields[19]), live=fields[0] not in _DEAD_STATES,
        )  # fmt: skip
    except (ValueError, IndexError):  # gone while we read it
        return None


def process_start_ticks(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat (start time in clock ticks since boot), None if no such pid.

    Together with the pid it identifies a process across pid reuse (orphan detection)."""
    info = read_stat(pid)
    return info.start if info else None


def scan() -> list[ProcInfo]:
    """Every process currently visible in /proc."""
    procs = []
    for name in os.listdir("/proc"):
        if name.isdigit() and (info := read_stat(int(name))) is not None:
            procs.append(info)
    return procs


def members(
    leader: int, procs: Iterable[ProcInfo], pipe_inode: int | None = None, start: int = 0
) -> list[ProcInfo]:
    """Live processes belonging to the attempt whose main process is `leader` (started at
    `start` ticks, 0: unknown): its descendants, its process group and session, and with
    `pipe_inode` every process holding that pipe open for writing (which catches
    double-forked daemons that kept the job's output). Once `leader` names another process,
    its group and session are that one's: only the pipe holders are left to find."""
    procs = list(procs)
    found: dict[int, ProcInfo] = {}
    head = next((p for p in procs if p.pid == leader), None)
    if head is None or not start or head.start == start:
        children: dict[int, list[ProcInfo]] = {}
        for p in procs:
            children.setdefault(p.ppid, []).append(p)
            if p.pid == leader or p.pgrp == leader or p.sid == leader:
                found[p.pid] = p
        stack, seen = [leader], {leader}
        while stack:
            for child in children.get(stack.pop(), ()):
                if child.pid not in seen:
                    seen.add(child.pid)
                    found[child.pid] = child
                    stack.append(child.pid)
    if pipe_inode is not None:
        link, me = f"pipe:[{pipe_inode}]", os.getpid()
        for p in procs:
            if p.pid not in found and p.pid != me and p.live and _writes_pipe(p.pid, link):
                found[p.pid] = p
    return [p for p in found.values() if p.live]


def recycled(pid: int, start: int) -> bool:
    """Whether `pid` now names a process other than the one started at `start` ticks."""
    info = read_stat(pid)
    return info is not None and bool(start) and info.start != start


def _writes_pipe(pid: int, link: str) -> bool:
    base = f"/proc/{pid}/fd"
    try:
        names = os.listdir(base)
    except OSError:
        return False
    for name in names:
        try:
            if os.readlink(f"{base}/{name}") != link:
                continue
            with open(f"/proc/{pid}/fdinfo/{name}", "rb") as f:
                flags = next(ln for ln in f if ln.startswith(b"flags:")).split()[1]
            if int(flags, 8) & os.O_ACCMODE != os.O_RDONLY:
                return True
        except (OSError, StopIteration, ValueError, IndexError):
            continue
    return False


def alive(procs: Iterable[ProcInfo]) -> list[ProcInfo]:
    """Those of `procs` that still run (same pid and start time, not a zombie)."""
    out = []
    for p in procs:
        now = read_stat(p.pid)
        if now is not None and now.start == p.start and now.live:
            out.append(now)
    return out


def signal_members(pgid: int | None, procs: Iterable[ProcInfo], sig: int) -> None:
    """Send `sig` to process group `pgid` (unless None) and to each of `procs` outside it that
    is still alive."""
    if pgid is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)
    for p in alive(procs):
        if p.pgrp != pgid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(p.pid, sig)


def terminate(pgid: int | None, procs: Iterable[ProcInfo]) -> None:
    """SIGTERM the group and `procs`, then SIGCONT so that stopped ones can act on it."""
    procs = list(procs)
    signal_members(pgid, procs, signal.SIGTERM)
    signal_members(pgid, procs, signal.SIGCONT)


def group_exists(pgid: int) -> bool:
    """Whether process group `pgid` has a member (a zombie counts: this is one cheap syscall)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def union(*groups: Iterable[ProcInfo]) -> list[ProcInfo]:
    """Processes of all groups, once each (by pid)."""
    return list({p.pid: p for group in groups for p in group}.values())


def kill_tree(pid: int, grace: float, start: int = 0) -> None:
    """Terminate `pid` (started at `start` ticks, 0: unknown) with its descendants, group and
    session (see end_all). For orphans, not for the executor's loop."""
    end_all(lambda procs: members(pid, procs, start=start), grace)


def end_all(pick: Callable[[list[ProcInfo]], list[ProcInfo]], grace: float) -> None:
    """Terminate the processes `pick` chooses from a scan of /proc: SIGTERM now, SIGKILL what
    survives `grace` seconds (and what `pick` chooses then: forked meanwhile), then wait (up to
    KILL_WAIT) until those are gone. Blocks until done. This process and its session are
    never signalled."""
    me, mine = os.getpid(), os.getsid(0)

    def chosen() -> list[ProcInfo]:
        return [p for p in pick(scan()) if p.pid != me and p.sid != mine]

    procs = chosen()  # snapshot first: descendants reparent once their parent dies
    if not procs:
        return
    terminate(None, procs)
    _await_gone(procs, grace)
    killed = union(alive(procs), chosen())
    signal_members(None, killed, signal.SIGKILL)
    _await_gone(killed, KILL_WAIT)  # SIGKILL is delivered, not awaited


def environ(pid: int) -> bytes | None:
    """The environment `pid` was started (exec'd) with, NUL-separated; None when it cannot be
    read (gone, a kernel thread, another user's process and we are not root)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return f.read()
    except OSError:
        return None


def _await_gone(procs: list[ProcInfo], seconds: float) -> None:
    """Sleep until none of `procs` is alive, or `seconds` have passed."""
    deadline = time.monotonic() + seconds
    while alive(procs) and time.monotonic() < deadline:
        time.sleep(0.01)
