"""Jobs whose runner died: expired leases (any daemon re-queues them) and orphans (the job
processes a dead predecessor on this node left running)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from jobctl.domain.job import Job
from jobctl.runtime import orphans, outcomes
from jobctl.runtime.eventlog import EventLog
from jobctl.store.repos.dispatch import Finish, Orphan
from jobctl.store.repos.output import OutputWrite

if TYPE_CHECKING:
    from jobctl.store.protocol import Store


@dataclass
class Reaper:
    store: Store
    log: EventLog
    rng: random.Random
    runner: str  # this daemon
    node: str
    kill_grace: float
    runs: Callable[[int], bool]  # whether this daemon runs the job (by id) now

    def reap(self, now: datetime) -> bool:
        """Re-queue jobs whose runner stopped renewing its lease; True if any were. This
        daemon's own expired leases are reaped only for jobs it does not run: a claim whose
        commit landed although the daemon saw it fail (the connection died in COMMIT) is
        nobody's, and would otherwise wait for this daemon to stop."""
        expired = [
            e
            for e in self.store.dispatch.expired(now)
            if e.job.lease_owner != self.runner or not self.runs(e.job.id)
        ]
        if expired:
            finishes = [outcomes.from_lost(e.job, now, self.rng) for e in expired]
            self._requeue_lost(finishes, {e.job.id: e.job for e in expired}, now)
        return bool(expired)

    def recover_orphans(
        self, now: datetime, spooled: Callable[[Orphan], OutputWrite | None] | None = None
    ) -> None:
        """End the job processes dead predecessors on this node left running (found by their
        JOBCTL_RUN marker or the pid on record: runtime/orphans.py), then re-queue their jobs
        as lost at once: no lease wait is needed (one daemon per node holds the node's lock,
        so every other runner on this node is dead). A job whose process was not spawned yet
        simply runs again. `spooled` gives an attempt's output left on this node, stored with
        its ending (a store that keeps output)."""
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
            pid = min(p.pid for p in procs)
            self._warn(now, "job.orphan_killed", run.job_id, run.attempt, job, pid=pid)
        finishes = [
            replace(
                outcomes.from_lost(o.job, now, self.rng, lease_expired=False),
                output=spooled(o) if spooled else None,
            )
            for o in rows
        ]
        self._requeue_lost(finishes, {o.job.id: o.job for o in rows}, now)

    def _requeue_lost(self, finishes: list[Finish], jobs: dict[int, Job], now: datetime) -> None:
        for finish in self.store.dispatch.finish(finishes, now):
            job, state = jobs.get(finish.job_id), finish.decision.state.value
            extra = {"state": state, "runner": finish.runner}
            self._warn(now, "job.lost", finish.job_id, finish.attempt, job, **extra)

    def _warn(
        self, now: datetime, event: str, job_id: int, attempt: int, job: Job | None, **kw: object
    ) -> None:
        """One warning line about an attempt (queue and request id when the job is known)."""
        self.log.emit(
            now,
            event,
            level="warning",
            job_id=job_id,
            queue=job.queue if job else None,
            attempt=attempt,
            request_id=job.request_id if job else None,
            **kw,
        )
