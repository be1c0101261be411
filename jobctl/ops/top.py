"""`jobctl top`'s data: one snapshot of queues, running jobs (CPU %, RSS via psutil) and
recent failures. Drawing lives in the CLI; this module never prints."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import psutil

from jobctl.config.model import Config
from jobctl.domain.durations import iso_z
from jobctl.ops.health import queue_loads
from jobctl.ops.nodes import node_state
from jobctl.store.repos.health import RecentFailure

if TYPE_CHECKING:
    from jobctl.store.protocol import Store


@dataclass(frozen=True)
class QueueRow:
    queue: str
    ready: int
    running: int
    lag: float
    rate: float  # completions per second over the window
    paused: bool


@dataclass(frozen=True)
class RunningRow:
    job_id: int
    name: str | None
    queue: str
    attempt: int
    node: str | None
    pid: int | None
    elapsed: float
    cpu_percent: float | None  # None: the process is not on this host (or gone)
    rss: int | None  # bytes, the process and its descendants
    command: str


@dataclass(frozen=True)
class NodeRow:
    """A node that needs the operator's eye: draining or dead."""

    node: str
    state: str  # draining | dead
    draining: bool
    running: int


@dataclass(frozen=True)
class Snapshot:
    at: datetime
    window: float
    queues: list[QueueRow]
    running: list[RunningRow]
    failures: list[RecentFailure]
    nodes: list[NodeRow] = field(default_factory=list)

    def shape(self) -> dict[str, Any]:
        """The `top -o json` document (times ISO Z, durations in seconds, RSS in bytes)."""
        return {
            "at": iso_z(self.at),
            "window": self.window,
            "queues": [q.__dict__ for q in self.queues],
            "running": [r.__dict__ for r in self.running],
            "failures": [
                {**f.__dict__, "finished_at": iso_z(f.finished_at)} for f in self.failures
            ],
            "nodes": [n.__dict__ for n in self.nodes],
        }


@dataclass
class ProcessSampler:
    """CPU % needs two looks at a process: keeps each pid's psutil handle between snapshots
    (the first look at a pid reports 0.0). Call `sample` for each attempt, then `end_round`."""

    handles: dict[int, psutil.Process] = field(default_factory=dict)
    seen: set[int] = field(default_factory=set)

    def sample(
        self, pid: int | None, pid_start: int | None = None
    ) -> tuple[float | None, int | None]:
        """(CPU % of one core summed over the process tree, RSS bytes), or (None, None)
        when the process is gone or its pid was reused (`pid_start` differs)."""
        if pid is None or (pid_start is not None and _start_ticks(pid) != pid_start):
            return None, None
        try:
            root = self._handle(psutil.Process(pid))
            tree = [root, *(self._handle(c) for c in root.children(recursive=True))]
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return None, None
        cpu, rss = 0.0, 0
        for proc in tree:
            try:
                cpu += proc.cpu_percent(None)
                rss += proc.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return round(cpu, 1), rss

    def _handle(self, proc: psutil.Process) -> psutil.Process:
        self.seen.add(proc.pid)
        known = self.handles.get(proc.pid)
        if known is None or known != proc:  # psutil compares pid and creation time
            self.handles[proc.pid] = known = proc
        return known

    def end_round(self) -> None:
        """Forget processes not seen since the last round."""
        for pid in set(self.handles) - self.seen:
            del self.handles[pid]
        self.seen = set()


def _start_ticks(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat (what the daemon records as pid_start), None if unreadable."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        return int(stat[stat.rindex(b")") + 2 :].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def snapshot(
    store: Store,
    config: Config,
    now: datetime,
    window: float,
    sampler: ProcessSampler,
    failures: int = 10,
) -> Snapshot:
    """Queues (ready, running, lag, completions/s over the last `window` seconds), running
    attempts with their process figures, and the newest failed attempts."""
    figures = store.stats.queue_figures(now)
    finished = store.health.finished_since(now - timedelta(seconds=window))
    queues = [
        QueueRow(
            q.queue,
            q.depth,
            figures[q.queue].running if q.queue in figures else 0,
            q.lag,
            round(finished.get(q.queue, 0) / window, 2) if window > 0 else 0.0,
            q.paused,
        )
        for q in queue_loads(store, config, now)
    ]
    running = []
    here = socket.gethostname()
    local = {d.node for d in store.daemons.live(now) if d.host == here}
    for a in store.health.running_attempts():
        cpu, rss = sampler.sample(a.pid, a.pid_start) if a.node in local else (None, None)
        running.append(
            RunningRow(
                a.job_id,
                a.name,
                a.queue,
                a.attempt,
                a.node,
                a.pid,
                round(max(0.0, (now - a.started_at).total_seconds()), 1),
                cpu,
                rss,
                _command(a.command),
            )
        )
    sampler.end_round()
    nodes = [
        NodeRow(n.name, node_state(n), n.draining, n.running)
        for n in store.nodes.list(now)
        if n.draining or not n.alive
    ]
    return Snapshot(now, window, queues, running, store.health.recent_failures(failures), nodes)


def _command(stored: str | None) -> str:
    if not stored:
        return "-"
    try:
        argv = json.loads(stored)
    except ValueError:
        return stored
    return " ".join(str(a) for a in argv) if isinstance(argv, list) else str(argv)
