"""Jobs whose runner died: expired leases (any daemon re-queues them) and orphans (the job
processes a dead predecessor on this node left running)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from jobctl.runtime import outcomes
from jobctl.runtime.eventlog import EventLog
from jobctl.runtime.executor import kill_tree, process_start_ticks
from jobctl.store import Store
from jobctl.store.sqlite.dispatch import Finish


@dataclass
class Reaper:
    store: Store
    log: EventLog
    rng: random.Random
    runner: str  # this daemon: its own leases are never reaped here
    node: str
    kill_grace: float

    def reap(self, now: datetime) -> bool:
        """Re-queue jobs whose runner stopped renewing its lease; True if any were."""
        expired = [e for e in self.store.dispatch.expired(now) if e.job.lease_owner != self.runner]
        if expired:
            self._requeue_lost([outcomes.from_lost(e.job, now, self.rng) for e in expired], now)
        return bool(expired)

    def recover_orphans(self, now: datetime) -> None:
        """Kill the job processes a dead predecessor on this node left running (same pid and
        start time), then re-queue their jobs as lost at once: no lease wait is needed (one
        daemon per node holds the node's lock, so their runner is surely dead)."""
        orphans = self.store.dispatch.orphans(self.node, self.runner)
        for orphan in orphans:
            if orphan.pid and orphan.pid_start == process_start_ticks(orphan.pid):
                kill_tree(orphan.pid, self.kill_grace)
                self.log.emit(
                    now, "job.orphan_killed", level="warning", job_id=orphan.job.id, pid=orphan.pid
                )
        finishes = [outcomes.from_lost(o.job, now, self.rng, lease_expired=False) for o in orphans]
        self._requeue_lost(finishes, now)

    def _requeue_lost(self, finishes: list[Finish], now: datetime) -> None:
        for finish in self.store.dispatch.finish(finishes, now):
            self.log.emit(
                now,
                "job.lost",
                level="warning",
                job_id=finish.job_id,
                attempt=finish.attempt,
                state=finish.decision.state.value,
                runner=finish.runner,
            )
