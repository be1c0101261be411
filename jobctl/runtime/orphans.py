"""Finding the job processes a dead runner left running, and ending them.

Every job process starts with `JOBCTL_RUN=<runner>/<job id>/<attempt>` in its environment, so
it is findable from the moment it exists, before its pid is on record (a daemon killed while
it spawns a batch has recorded none of them). A successor looks for the marker in /proc (as
root: in every user's processes) and at the pid + start time on record, which also finds a
job that replaced its environment (`env -i`). What ends is each found process's session and
process group with their descendants: a process that cleared its environment is still found
through the session it shares with its job. A runner id holds a random part, so a marker
never names another database's or another node's job; a pid recycled since it was recorded
is told apart by its start time.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from jobctl.runtime import proctree
from jobctl.runtime.proctree import ProcInfo

MARKER = "JOBCTL_RUN"
_NEEDLE = MARKER.encode() + b"="


@dataclass(frozen=True)
class Run:
    """One attempt of one job, as its marker names it."""

    runner: str
    job_id: int
    attempt: int

    def marker(self) -> str:
        return f"{self.runner}/{self.job_id}/{self.attempt}"


def parse(value: str) -> Run | None:
    """The attempt a marker value names (None if it is not one of ours)."""
    runner, _, rest = value.rpartition("/")
    runner, _, job = runner.rpartition("/")
    if not runner or not job.isdigit() or not rest.isdigit():
        return None
    return Run(runner, int(job), int(rest))


def marked(runners: Collection[str]) -> dict[Run, list[ProcInfo]]:
    """Live processes started with a marker of one of `runners`, by the attempt it names."""
    found: dict[Run, list[ProcInfo]] = {}
    if not runners:
        return found
    for proc in proctree.scan():
        if not proc.live:
            continue
        run = _run_of(proc.pid)
        if run is None or run.runner not in runners:
            continue
        again = proctree.read_stat(proc.pid)  # the pid still names the process we read
        if again is not None and again.start == proc.start and again.live:
            found.setdefault(run, []).append(again)
    return found


def _run_of(pid: int) -> Run | None:
    env = proctree.environ(pid)
    if not env or _NEEDLE not in env:
        return None
    for entry in env.split(b"\0"):
        if entry.startswith(_NEEDLE):
            return parse(entry[len(_NEEDLE) :].decode(errors="replace"))
    return None


def recorded(pid: int | None, start: int | None) -> ProcInfo | None:
    """The process on record, if that pid still names it (same start time) and it lives."""
    if not pid or not start:
        return None
    info = proctree.read_stat(pid)
    return info if info is not None and info.start == start and info.live else None


def end(roots: Iterable[ProcInfo], grace: float) -> None:
    """End the sessions and process groups of `roots`, with every descendant: SIGTERM, then
    SIGKILL after `grace` seconds (proctree.end_all)."""
    roots = list(roots)
    if not roots:
        return
    leaders = {(p.pid, p.start) for p in roots} | {(p.sid, 0) for p in roots}
    leaders |= {(p.pgrp, 0) for p in roots}

    def pick(procs: list[ProcInfo]) -> list[ProcInfo]:
        return proctree.union(*(proctree.members(pid, procs, start=s) for pid, s in leaders))

    proctree.end_all(pick, grace)
