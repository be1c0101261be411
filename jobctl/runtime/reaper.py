"""Jobs whose runner died: expired leases (any daemon re-queues them) and orphans (the job
processes a dead predecessor on this node left running)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from jobctl.domain.job import Job
from jobctl.runtime import orphans, outcomes
from jobctl.runtime.eventlog import EventLog
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
            finishes = [outcomes.from_lost(e.job, now, self.rng) for e in expired]
            self._requeue_lost(finishes, {e.job.id: e.job for e in expired}, now)
        return bool(expired)

    def recover_orphans(self, now: datetime) -> None:
        """End the job processes dead predecessors on this node left running (found by their
        JOBCTL_RUN marker or the pid on record: runtime/orphans.py), then re-queue their jobs
        as lost at once: no lease wait is needed (one daemon per node holds the node's lock,
        so every other runner on this node is dead). A job whose process was not spawned yet
        simply runs again."""
        rows = self.store.dispatch.orphans(self.node, self.runner)
        runners = set(self.store.daemons.runners(self.node))
        runners |= {o.job.lease_owner for o in rows if o.job.lease_owner}
        runners.discard(self.runner)
        found = orphans.marked(runners)  # also of jobs re-queued since (their lease expired)
        for row in rows:
            proc = orphans.recorded(row.pid, row.pid_start)
            if proc is not None:
                run = orphans.Run(row.job.lease_owner or "", row.job.id, row.job.attempts)
                found.setdefault(run, []).append(proc)
        orphans.end((p for procs in found.values() for p in procs), self.kill_grace)
        jobs = {(o.job.id, o.job.attempts): o.job for o in rows}
        for run, procs in sorted(found.items(), key=lambda item: item[0].job_id):
            job = jobs.get((run.job_id, run.attempt))
            self.log.emit(
                now,
                "job.orphan_killed",
                level="warning",
                job_id=run.job_id,
                queue=job.queue if job else None,
                attempt=run.attempt,
                request_id=job.request_id if job else None,
                pid=min(p.pid for p in procs),
            )
        finishes = [outcomes.from_lost(o.job, now, self.rng, lease_expired=False) for o in rows]
        self._requeue_lost(finishes, {o.job.id: o.job for o in rows}, now)

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
