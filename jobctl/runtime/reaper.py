"""Jobs whose runner died: expired leases (any daemon re-queues them) and orphans (the job
processes a dead predecessor on this node left running)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from jobctl.domain.job import Job
from jobctl.runtime import outcomes
from jobctl.runtime.eventlog import EventLog
from jobctl.runtime.executor import kill_tree, process_start_ticks
from jobctl.store import Store
from jobctl.store.repos.dispatch import Finish


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
            finishes = [outcomes.from_lost(e.job, now, self.rng) for e in expired]
            self._requeue_lost(finishes, {e.job.id: e.job for e in expired}, now)
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
                    now,
                    "job.orphan_killed",
                    level="warning",
                    job_id=orphan.job.id,
                    queue=orphan.job.queue,
                    attempt=orphan.job.attempts,
                    request_id=orphan.job.request_id,
                    pid=orphan.pid,
                )
        finishes = [outcomes.from_lost(o.job, now, self.rng, lease_expired=False) for o in orphans]
        self._requeue_lost(finishes, {o.job.id: o.job for o in orphans}, now)

    def _requeue_lost(self, finishes: list[Finish], jobs: dict[int, Job], now: datetime) -> None:
        for finish in self.store.dispatch.finish(finishes, now):
            job = jobs.get(finish.job_id)
            self.log.emit(
                now,
                "job.lost",
                level="warning",
                job_id=finish.job_id,
                queue=job.queue if job else None,
                attempt=finish.attempt,
                request_id=job.request_id if job else None,
                state=finish.decision.state.value,
                runner=finish.runner,
            )
