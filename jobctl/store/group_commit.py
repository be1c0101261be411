"""Group commit for enqueues: concurrent enqueues in one process share one durable commit.

Leader and followers. An enqueue arriving while no group is being written leads at once (a
lone enqueue is never delayed): it takes every enqueue waiting at that moment, its own
among them, and writes them in one transaction of its own thread's store
(`JobsRepo.enqueue_group`: each in a savepoint, so a refused one fails alone). Enqueues
arriving meanwhile wait. When the commit returns (on disk, at synchronous FULL) each waiter
gets its own result, and one still waiting leads the next group with everything queued up by
then. So an enqueue is acknowledged only once the commit that holds it is durable, as
before; under concurrency one fsync serves many.

Both backends: on PostgreSQL a group is one transaction (one WAL flush and round trip) too.
`commits` and `enqueues` count this process's groups and the enqueues they held.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobctl.domain.audit import AuditEntry
    from jobctl.domain.job import JobSpec
    from jobctl.domain.queues import Backpressure
    from jobctl.store.protocol import Store
    from jobctl.store.repos.jobs import Enqueued, EnqueueRequest

_WAITING = object()  # an enqueue's outcome before its group is written


class _Pending:
    __slots__ = ("outcome", "request")

    def __init__(self, request: EnqueueRequest) -> None:
        self.request = request
        self.outcome: Any = _WAITING


class GroupCommit:
    """Enqueues of the threads of one process, grouped into shared commits. `store` gives
    the calling thread's own store (the leader writes through its own)."""

    def __init__(self, store: Callable[[], Store]) -> None:
        self._store = store
        self._cond = threading.Condition(threading.Lock())
        self._queue: list[_Pending] = []
        self._leading = False
        self.commits = 0  # write transactions (groups) this process ran
        self.enqueues = 0  # enqueues those groups held
        self.largest = 0  # the most enqueues one group held

    @property
    def waiting(self) -> int:
        """Enqueues queued behind the group being written."""
        with self._cond:
            return len(self._queue)

    def enqueue(
        self,
        specs: Sequence[JobSpec],
        now: datetime,
        backpressure: Mapping[str, Backpressure] | None = None,
        audit: AuditEntry | None = None,
    ) -> list[Enqueued]:
        """`store.jobs.enqueue(specs, now, backpressure, audit)`, sharing its commit with
        the enqueues of other threads that arrive while one is being written. Returns once
        the commit holding it is durable; raises its own error only."""
        mine = _Pending((specs, now, backpressure, audit))
        with self._cond:
            self._queue.append(mine)
            while mine.outcome is _WAITING and self._leading:
                self._cond.wait()
            group: list[_Pending] = []
            if mine.outcome is _WAITING:  # nobody is writing: lead, with all that queued up
                self._leading = True
                group, self._queue = self._queue, []
        if group:
            self._lead(group, mine)
        if isinstance(mine.outcome, BaseException):
            raise mine.outcome
        return mine.outcome

    def _lead(self, group: list[_Pending], mine: _Pending) -> None:
        outcomes: list[Any] = []
        try:
            outcomes = self._write([p.request for p in group])
        except Exception as exc:  # nothing written: every enqueue of the group fails
            outcomes = [exc] * len(group)
        except BaseException as exc:  # the leader interrupted: its own enqueue re-raises it
            from jobctl.errors import Unavailable

            others = Unavailable(f"enqueue interrupted before its commit ({type(exc).__name__})")
            outcomes = [exc if p is mine else others for p in group]
            raise
        finally:
            with self._cond:
                for pending, outcome in zip(group, outcomes, strict=True):
                    pending.outcome = outcome
                self.commits += 1
                self.enqueues += len(group)
                self.largest = max(self.largest, len(group))
                self._leading = False
                self._cond.notify_all()

    def _write(self, requests: list[EnqueueRequest]) -> list[Any]:
        jobs = self._store().jobs
        if len(requests) == 1:  # alone: the plain transaction, no savepoint
            return [jobs.enqueue(*requests[0])]
        return list(jobs.enqueue_group(requests))
