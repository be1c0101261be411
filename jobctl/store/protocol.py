"""The store contract: what every backend guarantees, verb by verb.

Callers (ops, runtime, client) rely on these sentences, not on SQLite or PostgreSQL. Both
backends implement them with the same repos (store/repos: one SQL text, a `Database` seam
for the few differences); PostgreSQL replaces the claim (SKIP LOCKED) and the change feed
(LISTEN/NOTIFY). One behaviour suite (tests/store) runs over both.

Conventions for every verb:
- Times come in as `now` (UTC) from the caller; the store never reads a clock except in
  `Store.now()`. On PostgreSQL, daemons take `now` from the database's clock.
- A verb that writes is one transaction: all of it happens or none of it does.
- "NotFound", "InvalidInput", "Unavailable" are the JobctlErrors of jobctl.errors (exit codes
  3, 2, 75); a busy or unreachable database is Unavailable, anything else StoreError.
- Lists are returned empty, never None, when nothing matches.

Whole-database verbs take a URL rather than a store, and never migrate what they read:
store/maintenance.py (`backup`: a consistent snapshot into a new SQLite file; `check`:
integrity, schema version and the invariants of store/invariants.py, in one snapshot) and
store/copy.py (`copy_database`: every table of TABLES, read in one snapshot, written in one
transaction of an empty destination, ids kept).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from jobctl.domain import sweep as sw
from jobctl.domain.audit import AuditEntry
from jobctl.domain.job import Attempt, Job, JobSpec
from jobctl.domain.lag import PartitionKey, Sample
from jobctl.domain.notify import Event, Window
from jobctl.domain.placement import Placement
from jobctl.domain.queues import Backpressure, RateLimit
from jobctl.domain.schedule import FireDecision, Schedule
from jobctl.errors import JobctlError
from jobctl.store.database import Conn, Database
from jobctl.store.records import ServerFigures
from jobctl.store.repos.daemons import DaemonInfo
from jobctl.store.repos.dispatch import Claim, Expired, Finish, Orphan, Spawn, Tick
from jobctl.store.repos.dlq import DeadLetter, Decide, Replayed, Selection
from jobctl.store.repos.gangs import Capacity, Gang
from jobctl.store.repos.health import RecentFailure, RunningAttempt
from jobctl.store.repos.jobs import CancelResult, Enqueued, EnqueueRequest, Retried
from jobctl.store.repos.kafka import PartitionRow
from jobctl.store.repos.locks import LockInfo
from jobctl.store.repos.nodes import NodeInfo
from jobctl.store.repos.notify import Delivery, Router, Settled
from jobctl.store.repos.once import OnceClaim, OnceRecord
from jobctl.store.repos.output import OutputWrite
from jobctl.store.repos.schedules import FireRecord, LastFire, LastRun, LiveJob
from jobctl.store.repos.stats import QueueFigures
from jobctl.store.repos.sweeps import NewSweep
from jobctl.store.repos.tokens import ApiToken


class Jobs(Protocol):
    def enqueue(
        self,
        specs: Sequence[JobSpec],
        now: datetime,
        backpressure: Mapping[str, Backpressure] | None = None,
        audit: AuditEntry | None = None,
    ) -> list[Enqueued]:
        """Create jobs in one transaction, all or nothing, in order. A live job holding a
        spec's key is returned (created=False) instead of a new one. An unknown dependency is
        InvalidInput. A queue at its `backpressure` max_depth defers the job, or with shed
        reject refuses the whole batch (Unavailable): race-free across processes and hosts.
        `audit` is recorded in the same transaction when a job was created."""
        ...

    def enqueue_group(
        self, requests: Sequence[EnqueueRequest]
    ) -> list[list[Enqueued] | JobctlError]:
        """Several independent enqueues, each as `enqueue` takes them, in one transaction
        (one commit, durable when it returns, as `enqueue`'s): each all or nothing on its
        own (a savepoint), so a refused one (InvalidInput, Unavailable) is rolled back and
        returned as its error in its place while the others are created; later ones see
        the jobs of earlier ones (keys, queue depths). Any other error writes nothing and
        propagates. Used by store/group_commit.py."""
        ...

    def enqueue_in(self, conn: Conn, spec: JobSpec, now: datetime) -> int:
        """Enqueue inside the caller's write transaction; returns the job id."""
        ...

    def get(self, job_id: int) -> Job:
        """The job with its dependencies; NotFound when there is none."""
        ...

    def attempts(self, job_id: int) -> list[Attempt]:
        """The job's attempts, oldest first."""
        ...

    def list(
        self,
        now: datetime,
        states: Iterable[str] = (),
        queue: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[Job]:
        """Newest first; `states` may include "scheduled" (queued, not yet due)."""
        ...

    def ids_in_state(self, states: Iterable[str], queue: str | None = None) -> builtins.list[int]:
        """Ids of the jobs in these states (optionally of one queue), ascending."""
        ...

    def cancel(self, ids: Sequence[int], now: datetime, reason: str) -> builtins.list[CancelResult]:
        """Not running → cancelled now (waiting dependants cascade); running → a cancel
        request its daemon carries out. An unknown job (NotFound) or a terminal one
        (WrongState) raises and nothing is done."""
        ...

    def retry(
        self, ids: Sequence[int], now: datetime, request_id: str | None = None
    ) -> builtins.list[Retried]:
        """Dead, cancelled or retrying jobs run again now with a fresh attempt budget, in one
        transaction; a job whose key a live job holds is skipped (its Retried says why). An
        unknown job (NotFound) or one in another state (WrongState) raises, nothing done."""
        ...

    def set_checkpoint(self, job_id: int, value: str, epoch: int | None = None) -> None:
        """Save the job's checkpoint (its next attempt gets it); NotFound when no job. With a
        gang member's `epoch`, WrongState once its gang has moved to a later one."""
        ...

    def purge_queue(self, queue: str, now: datetime) -> int:
        """Cancel every job of the queue that has not started; returns how many."""
        ...


class Dispatch(Protocol):
    """The daemon's side: claims, spawns, finishes, leases. Batches: one claim takes up to
    the free slots, one finish records many outcomes, each in one transaction; `tick` holds
    a daemon tick's spawns, finishes and claims in a single one."""

    def claim(self, claim: Claim, now: datetime) -> list[Job]:
        """Atomically move up to `claim.slots` ready jobs to running under this runner's
        lease, priority first, then due time, then enqueue order. Paused queues, queues at
        their concurrency limit (counted across every daemon), exhausted rate buckets and
        jobs behind an earlier live job with the same ordering key are skipped. No job is
        ever claimed by two runners. Empty when nothing is ready."""
        ...

    def record_spawns(self, spawns: Sequence[Spawn]) -> None:
        """Remember attempts' processes and log locations (orphan recovery)."""
        ...

    def finish(
        self, finishes: Sequence[Finish], now: datetime, spawns: Sequence[Spawn] = ()
    ) -> list[Finish]:
        """Apply attempt endings (and `spawns`, and each ending's `output`) in one
        transaction, with their retries, DLQ entries and released or cancelled dependants.
        An ending whose lease was lost (the job no longer runs this attempt for this runner)
        is discarded, though its output is stored; returns those applied."""
        ...

    def tick(
        self,
        finishes: Sequence[Finish],
        claim: Claim | None,
        now: datetime,
        spawns: Sequence[Spawn] = (),
    ) -> Tick:
        """One daemon tick in ONE transaction: record `spawns`, apply `finishes` (as
        `finish`: retries, DLQ entries, dependants, output), then claim (as `claim`, seeing
        the slots and ordering keys those finishes freed; None or no slots: no claim).
        Atomic: all of it commits together or none of it does, so a finish is acknowledged
        exactly when the claims that follow it are. `next_due` is set when fewer than the
        free slots were claimed (as `next_due`)."""
        ...

    def requeue(self, job_id: int, attempt: int, runner: str, now: datetime, reason: str) -> bool:
        """Give a running attempt back without spending it (its attempt row and stored
        output are deleted: the number runs again; a gang member's attempt is closed and
        its gang stops to run again as one); False when not ours any more."""
        ...

    def renew_leases(
        self, runner: str, job_ids: Sequence[int], until: datetime, reservations: bool = False
    ) -> None:
        """Extend this runner's leases of these running jobs (one statement per heartbeat),
        and with `reservations` of the gang members it holds reserved."""
        ...

    def release_reservations(self, runner: str) -> None:
        """Give up the gang members this runner holds reserved (it drains or stops)."""
        ...

    def expired(self, now: datetime, limit: int = 500) -> list[Expired]:
        """Running jobs whose lease ran out before `now` (their runner is presumed dead)."""
        ...

    def orphans(self, node: str, runner: str) -> list[Orphan]:
        """Running attempts started on `node` by a runner other than `runner`."""
        ...

    def cancel_requested(self, runner: str) -> list[int]:
        """This runner's running jobs someone asked to cancel."""
        ...

    def next_due(self, now: datetime, queues: frozenset[str] | None = None) -> float | None:
        """Epoch seconds of the earliest queued or retrying job not yet due; None if none."""
        ...

    def rate_window(
        self, queue: str, tenant: str | None, rate: RateLimit, now: datetime
    ) -> tuple[int, datetime | None]:
        """Claims counted in this job's rate bucket within the window ending at `now`, and
        when the oldest of them leaves it."""
        ...

    def ready_count(self, now: datetime) -> int:
        """Jobs due and waiting for a slot."""
        ...

    def running_count(self) -> int:
        """Jobs running anywhere."""
        ...


class Schedules(Protocol):
    def add(self, schedule: Schedule, now: datetime) -> None:
        """Create; an existing name is InvalidInput. Fires start after `now`."""
        ...

    def get(self, name: str) -> Schedule:
        """NotFound when there is no such schedule."""
        ...

    def list(self) -> list[Schedule]:
        """Every schedule, by name."""
        ...

    def changed_marker(self) -> tuple[int, float | None]:
        """A cheap value that changes whenever a schedule is added, removed or edited."""
        ...

    def remove(self, name: str) -> None:
        """Delete (its fire ledger stays); NotFound when there is none."""
        ...

    def update(self, name: str, now: datetime, **fields: Any) -> None:
        """Set fields of one schedule; NotFound when there is none."""
        ...

    def reconcile_config(
        self, schedules: Sequence[Schedule], now: datetime
    ) -> tuple[int, int, int]:
        """Make the config-owned schedules equal `schedules` (others untouched); returns
        (created, updated, removed). Safe when several daemons reconcile at once."""
        ...

    def record_fires(
        self,
        name: str,
        decisions: Sequence[tuple[FireDecision, JobSpec | Sequence[JobSpec] | None]],
        cursor: datetime,
        now: datetime,
        cancel_ids: Sequence[int] = (),
        seen: Schedule | None = None,
    ) -> builtins.list[tuple[FireDecision, int | None]]:
        """In one transaction: record each fire not yet recorded (exactly once per schedule
        and nominal time, however many daemons race), enqueue its job when it has a spec
        (an `--on-every-node` fire: its several jobs, all or none with the fire), cancel
        `cancel_ids`, advance the cursor. Returns the fires this call recorded, each with
        its (first) job id. With `seen`, the schedule as the fires were decided: nothing is
        recorded, ScheduleChanged, when it was edited or removed since."""
        ...

    def record_boot(self, boot_id: str, node: str, now: datetime) -> datetime:
        """When this boot was first seen: `now` for the first call with `boot_id`, else the
        time the first caller recorded (atomic across racing daemons of one boot). It is
        the nominal time of the boot's @reboot fires."""
        ...

    def live_jobs(self, name: str) -> builtins.list[LiveJob]:
        """The schedule's jobs that have not ended, by id, with the node each is placed on."""
        ...

    def last_fire(self, name: str) -> LastFire | None:
        """The newest recorded fire (any outcome, `no_node` included) with the jobs it
        enqueued: one, or one per node for `--on-every-node`, none for a missed fire."""
        ...

    def last_run(self, name: str) -> LastRun | None:
        """The newest fire that enqueued a job, and that job's state."""
        ...

    def run_durations(self, name: str, limit: int) -> builtins.list[float]:
        """Durations of the finished attempts of the schedule's newest jobs."""
        ...

    def fires(
        self, name: str | None, since: datetime | None, outcomes: Sequence[str] | None = None
    ) -> builtins.list[FireRecord]:
        """The fire ledger, newest first, filtered."""
        ...


class Dlq(Protocol):
    def list(
        self,
        queue: str | None = None,
        since: datetime | None = None,
        failure_class: str | None = None,
        limit: int = 1000,
        older_than: datetime | None = None,
    ) -> list[DeadLetter]:
        """Entries, newest first, filtered."""
        ...

    def get(self, entry_id: int) -> DeadLetter:
        """NotFound when there is no such entry."""
        ...

    def latest_per_job(self, limit: int) -> builtins.list[DeadLetter]:
        """The newest entry of each job, newest first, at most `limit` (empty when none)."""
        ...

    def replay(
        self,
        selection: Selection,
        now: datetime,
        decide: Decide,
        spec_of: Callable[[Job], JobSpec],
        dry_run: bool = False,
    ) -> builtins.list[Replayed]:
        """Replay the selected entries oldest first in one transaction: each entry `decide`
        does not skip gets a new job (linked both ways). An unknown id is NotFound and
        nothing is written."""
        ...

    def purge(self, older_than: datetime | None) -> int:
        """Delete entries (created before `older_than`, or all); returns how many."""
        ...

    def replay_of(self, job_id: int) -> int | None:
        """The entry `job_id` was replayed from, if any."""
        ...


class Once(Protocol):
    def claim(
        self, name: str, claim: OnceClaim, may_claim: Callable[[OnceRecord | None], bool]
    ) -> tuple[bool, OnceRecord | None]:
        """Atomically (across hosts): read NAME's record, ask `may_claim`, and if yes make it
        running under `claim`. Returns (claimed, the record as it now is)."""
        ...

    def started(self, name: str, holder: str, cmd_pid: int, cmd_pid_start: int | None) -> None:
        """Record CMD's process under the holder's claim."""
        ...

    def renew(self, name: str, holder: str, until: datetime) -> bool:
        """Extend the claim's lease; False when `holder` no longer holds NAME."""
        ...

    def finish(
        self,
        name: str,
        holder: str,
        now: datetime,
        exit_code: int | None,
        signal: int | None,
        output_tail: str | None,
        log_path: str | None,
    ) -> bool:
        """End the claim: succeeded on exit 0, else failed; False when not held."""
        ...

    def get(self, name: str) -> OnceRecord:
        """NotFound when NAME never ran."""
        ...

    def find(self, name: str) -> OnceRecord | None:
        """NAME's record, or None."""
        ...

    def list(self) -> list[OnceRecord]:
        """Every record, by name."""
        ...

    def reset(self, name: str, may_reset: Callable[[OnceRecord], None]) -> OnceRecord:
        """Delete NAME's record once `may_reset` accepts it (it raises to refuse)."""
        ...

    def set_checkpoint(self, name: str, value: str) -> None:
        """Save NAME's checkpoint; NotFound when there is no record."""
        ...


class Locks(Protocol):
    def acquire(
        self, name: str, holder: str, holder_id: str, ttl: float, now: datetime
    ) -> tuple[bool, LockInfo]:
        """Take `name` if free or expired (its fencing token grows by one), atomically
        across hosts; returns (acquired, the lock as it now is)."""
        ...

    def renew(self, name: str, holder_id: str, ttl: float, now: datetime) -> bool:
        """Extend the lease to now + ttl; False when `holder_id` no longer holds it."""
        ...

    def release(self, name: str, holder_id: str | None = None) -> bool:
        """Free the lock (only from `holder_id`, when given); the token stays."""
        ...

    def get(self, name: str) -> LockInfo | None:
        """The lock's row, held or not."""
        ...

    def held(self, now: datetime) -> list[LockInfo]:
        """Locks held by a live lease, by name."""
        ...


class Sweeps(Protocol):
    def create(self, new: NewSweep, now: datetime) -> sw.Sweep:
        """Register a sweep (state `marking`); InvalidInput when a live one has the name."""
        ...

    def get(self, sweep_id: int) -> sw.Sweep:
        """NotFound when there is no such sweep."""
        ...

    def find(self, ref: str) -> sw.Sweep:
        """By id, or by name (the live sweep of that name, else the newest)."""
        ...

    def list(self, kind: str | None = None, states: tuple[str, ...] = ()) -> list[sw.Sweep]:
        """Oldest first, filtered."""
        ...

    def finish_marking(self, sweep_id: int, marked: int) -> sw.Sweep:
        """Marking done: `marked` rows, state `marked`."""
        ...

    def start_run(self, sweep_id: int, run_by: str, now: datetime) -> None:
        """State `running` (a resumed run keeps its first start)."""
        ...

    def save_progress(
        self, sweep_id: int, done: int, deleted: int, skipped: int, finished_at: datetime | None
    ) -> None:
        """Mirror the target's progress; `finished_at` marks the sweep done."""
        ...

    def set_unmarked(self, sweep_id: int, now: datetime) -> None:
        """State `unmarked` (its marks were dropped)."""
        ...

    def forget_finished(self, kind: str, name: str, keep: int) -> int:
        """Drop all but the newest `keep` finished sweeps of this kind and name."""
        ...

    def delete(self, sweep_id: int) -> None:
        """Forget a sweep whose marking failed."""
        ...


class Audit(Protocol):
    def record(self, entry: AuditEntry) -> int:
        """Append one entry in its own transaction; returns its id."""
        ...

    def list(
        self, since: datetime | None = None, actions: Iterable[str] = (), limit: int = 1000
    ) -> list[AuditEntry]:
        """Oldest first within the newest `limit`; `sweep` or `sweep.*` match every
        action under it."""
        ...


class Tokens(Protocol):
    def create(self, token: ApiToken) -> None:
        """Store a new live token; InvalidInput when a live token has the name."""
        ...

    def by_lookup(self, lookup: str) -> ApiToken | None:
        """The live token with this public id."""
        ...

    def live(self) -> list[ApiToken]:
        """Live tokens by name."""
        ...

    def revoke(self, name: str, now: datetime) -> bool:
        """Revoke the live token `name`; False when there is none."""
        ...


class Daemons(Protocol):
    def register(self, info: DaemonInfo) -> None:
        """Record a starting daemon (replacing a row of the same id)."""
        ...

    def heartbeat(self, daemon_id: str, now: datetime, clock_offset: float = 0.0) -> None:
        """The daemon is alive at `now` (database time); `clock_offset` is how far the
        database's clock is ahead of its node's."""
        ...

    def stopped(self, daemon_id: str, now: datetime) -> None:
        """The daemon stopped cleanly."""
        ...

    def live(self, now: datetime) -> list[DaemonInfo]:
        """Daemons not stopped whose heartbeat is within 3 of their intervals, by node."""
        ...

    def runners(self, node: str) -> list[str]:
        """Ids of the daemons ever registered on `node` (the caller's own included)."""
        ...

    def forget_stale(self, now: datetime, older_than: float = 7 * 86400) -> None:
        """Drop the rows of daemons gone for `older_than` seconds."""
        ...


class Gangs(Protocol):
    """Gang jobs (all or none; repos/gangs.py), and the cluster's room for one."""

    def capacity(self, now: datetime, placement: Placement) -> Capacity:
        """The live nodes `placement` allows (not draining) and their slots in all."""
        ...

    def get(self, gang_id: int, now: datetime | None = None) -> Gang | None:
        """The gang with its members in rank order and where each last ran, and (given
        `now`) the reservations live daemons hold for it."""
        ...


class Nodes(Protocol):
    """Nodes as their daemons register them, and the operator's drain/resume/forget."""

    def register(self, info: NodeInfo) -> None:
        """A daemon starts on the node: record host, tags, version. An operator's drain
        stays set; a forgotten node is known again."""
        ...

    def heartbeat(self, name: str, now: datetime) -> None:
        """The node's daemon is alive at `now` (a forgotten node stays forgotten)."""
        ...

    def get(self, name: str) -> NodeInfo | None:
        """The node as registered (forgotten too), None when never seen."""
        ...

    def list(self, now: datetime) -> list[NodeInfo]:
        """Nodes not forgotten, by name, with liveness at `now` and running job counts."""
        ...

    def set_draining(self, name: str, draining: bool, drain_now: bool, now: datetime) -> bool:
        """Drain (claims stop at once; `drain_now`: running jobs are put back) or resume;
        False for an unknown node."""
        ...

    def forget(self, name: str, now: datetime) -> int | None:
        """Gone for good: its daemons stopped, its leases expired at `now` (the count);
        None for an unknown node."""
        ...


class Chores(Protocol):
    """Cluster chores done by one daemon per period (a lease row with a term number)."""

    def hold(self, chore: str, holder: str, now: datetime, ttl: float) -> int | None:
        """Take or keep `chore` until `now + ttl`: the term, or None (another holds it)."""
        ...

    def release(self, holder: str) -> None:
        """`holder` stops: its chores may be taken over at once."""
        ...

    def holders(self) -> dict[str, tuple[str, int, float]]:
        """chore → (holder, term, expires_at)."""
        ...


class Queues(Protocol):
    def set_paused(self, name: str, paused: bool, now: datetime) -> None:
        """Pause or resume a queue (claims skip a paused one)."""
        ...

    def paused(self) -> set[str]:
        """Names of the paused queues."""
        ...

    def known(self) -> set[str]:
        """Every queue name with jobs or state in the DB."""
        ...


class Stats(Protocol):
    def queue_figures(self, now: datetime) -> dict[str, QueueFigures]:
        """Per-queue counts, lag and recent waits; cost independent of finished history."""
        ...

    def running_in_queue(self, queue: str) -> int:
        """Jobs of the queue running anywhere."""
        ...

    def ordering_head(self, ordering_key: str) -> tuple[int, str] | None:
        """The earliest live job with this ordering key: (id, state)."""
        ...

    def dependency_states(self, job_id: int) -> list[tuple[int, str]]:
        """(id, state) of each job this one depends on."""
        ...


class Health(Protocol):
    def probe_write(self, now: datetime) -> None:
        """Prove the DB writable (a write, rolled back): raises when it is not."""
        ...

    def quick_check(self) -> list[str]:
        """Problems a cheap look finds (empty when sound)."""
        ...

    def dlq_added_since(self, since: datetime) -> dict[str, int]:
        """Dead letters created since `since`, per queue."""
        ...

    def last_success(self, schedule: str) -> datetime | None:
        """When the schedule's newest succeeded job finished."""
        ...

    def finished_since(self, since: datetime) -> dict[str, int]:
        """Jobs that ended since `since`, per queue."""
        ...

    def running_attempts(self, limit: int = 200) -> list[RunningAttempt]:
        """Open attempts of running jobs, oldest first."""
        ...

    def recent_failures(self, limit: int = 10) -> list[RecentFailure]:
        """The newest failed attempts, newest first."""
        ...

    def job_states(self, ids: list[int]) -> dict[int, tuple[str, float | None, float | None]]:
        """id → (state, started_at, finished_at)."""
        ...


class Metrics(Protocol):
    def dlq_entries(self) -> dict[str, int]:
        """Dead letters not replayed, per queue."""
        ...

    def jobs_after(self, cursor: int | None) -> tuple[dict[str, int], int]:
        """Jobs created after `cursor` per queue, and the new cursor."""
        ...


class Kafka(Protocol):
    def record_samples(
        self,
        cluster: str,
        group: str,
        rows: Iterable[PartitionRow],
        now: datetime,
        prune_before: datetime,
    ) -> None:
        """Append one sample per partition at `now` and prune older than `prune_before`."""
        ...

    def windows(
        self, cluster: str, group: str, start: datetime, since: datetime, before: int
    ) -> dict[PartitionKey, list[Sample]]:
        """Each partition's samples of `group` taken at or after `start`, and the `before`
        newest ones before it (none older than `since`), oldest first; empty when none."""
        ...

    def count(self) -> int:
        """Samples stored."""
        ...


class Notify(Protocol):
    """The notification outbox. Events are written by the verbs whose change caused them
    (dispatch.finish: failed, dead, recovered, too_short, paused; schedules.record_fires:
    missed), in the same transaction; scans record the rest here."""

    def record(
        self, kind: str, now: datetime, body: Mapping[str, Any], dedup: str | None = None
    ) -> int | None:
        """Write one event in its own transaction; with `dedup`, at most once per key
        (None when it was already there)."""
        ...

    def record_too_long(self, now: datetime) -> int:
        """A `too_long` event, once per attempt, for every running job of a schedule with
        a max_runtime that has run longer (cluster-wide); returns how many were new."""
        ...

    def record_node_down(self, now: datetime, within: float = 86400.0) -> int:
        """A `node_down` event, once per daemon, for each daemon that stopped heartbeating
        without a clean stop within the last `within` seconds; returns how many were new."""
        ...

    def record_dlq_growth(self, now: datetime, over: int, window: float = 3600.0) -> int:
        """A `dlq_growth` event per queue with more than `over` dead letters in the last
        `window` seconds, once per queue per window; returns how many were new."""
        ...

    def pending(self, now: datetime) -> bool:
        """Whether routing, digests or delivery have anything to do at `now` (cheap)."""
        ...

    def route(self, now: datetime, router: Router, limit: int = 500) -> int:
        """Route the oldest new events exactly once across every daemon (`router` decides
        deliveries and max_per windows, in the same transaction); returns how many."""
        ...

    def digests(self, now: datetime, due: Callable[[str, Window], bool]) -> int:
        """One digest delivery per route and channel whose folded deliveries' window
        ended (`due`), carrying them; returns how many digests were made."""
        ...

    def claim(
        self,
        now: datetime,
        limit: int,
        lease: float,
        busy: Mapping[str, int] | None = None,
        per_channel: int | None = None,
    ) -> list[Delivery]:
        """Lease up to `limit` due deliveries, at most `per_channel` of one channel counting
        its `busy` sends; no delivery is leased to two daemons at once; an expired lease
        makes it due again."""
        ...

    def settle(self, outcomes: Sequence[Settled], now: datetime) -> int:
        """Record leased attempts' outcomes in one transaction (delivered, retrying at a
        time, or dead); one whose lease was lost is ignored. Returns how many were."""
        ...

    def get(self, delivery_id: int) -> Delivery:
        """NotFound when there is none."""
        ...

    def events(self, limit: int = 100) -> list[Event]:
        """The newest events, newest first."""
        ...

    def retry(self, delivery_id: int, now: datetime) -> Delivery:
        """A dead or retrying delivery is due now again, with a fresh give-up time."""
        ...

    def outcomes(self) -> dict[tuple[str, str], int]:
        """(channel, state) → deliveries."""
        ...

    def prune(self, before: datetime, limit: int = 1000) -> int:
        """Forget settled deliveries and events older than `before`, a batch at most."""
        ...

    def list(self, states: Sequence[str] = (), limit: int = 100) -> list[Delivery]:
        """Deliveries newest first; an unknown state is InvalidInput."""
        ...


class Output(Protocol):
    """Attempt output kept in the store (store/repos/output.py): each attempt's bytes in
    chunks numbered from 1 in the order produced; chunk 0, when present, is the line saying
    how many earlier bytes the cap dropped. Deleted with the job (retention, cascade);
    `db copy` and `db backup` carry it."""

    def append(self, job_id: int, attempt: int, seq: int, data: bytes) -> None:
        """Add one chunk as `seq` (>= 1); a seq already stored is InvalidInput, a missing job
        NotFound; nothing written then."""
        ...

    def write(self, writes: Sequence[OutputWrite]) -> None:
        """Apply the writes (chunks added, older chunks dropped past the cap, the marker, or a
        whole replacement; any number of attempts) in one transaction. Never refused: a seq
        already stored is left as it is (a retried write changes nothing), the output of a
        job that no longer exists is not written."""
        ...

    def replace(self, job_id: int, attempt: int, data: bytes) -> int:
        """Make `data` all of the attempt's stored output in one transaction, numbered on
        after the highest seq it had; returns the last seq (0 when `data` is empty)."""
        ...

    def chunks_after(
        self, job_id: int, attempt: int, seq: int, limit: int = 64
    ) -> list[tuple[int, bytes]]:
        """Up to `limit` chunks (seq, data) with a seq above `seq`, in order (`seq` -1: from
        the marker); empty when none."""
        ...

    def total_bytes(self, job_id: int, attempt: int) -> int:
        """Bytes of the attempt's stored output; 0 when none."""
        ...


class ChangeFeed(Protocol):
    """What an idle daemon waits on: another process's writes that may make work ready."""

    rescan: float | None  # look for work at least this often (None: changes are pushed)

    def start(self, wake: Callable[[], None]) -> bool:
        """From now on call `wake` soon after another process commits work; False (nothing
        started) where this backend or its configuration cannot push."""
        ...

    def changed(self) -> bool:
        """Whether something may have changed since the last call (cheap; may say True
        when nothing did, never False when something did)."""
        ...

    def close(self) -> None: ...


class Store(Protocol):
    """A jobctl database: its repos, its change feed and its clock. One per thread."""

    @property
    def kind(self) -> str:
        """ "sqlite" or "postgres"."""
        ...

    @property
    def db(self) -> Database:
        """The transactions under the repos (for store/ itself and the store's tests)."""
        ...

    @property
    def url(self) -> str:
        """Where it is, fit to print (a password is hidden)."""
        ...

    @property
    def local_path(self) -> Path | None:
        """The SQLite file, or None on a server shared by hosts."""
        ...

    def server_figures(self) -> ServerFigures | None:
        """A server's own health figures (PostgreSQL), None without a server (SQLite)."""
        ...

    @property
    def keeps_output(self) -> bool:
        """Whether daemons keep attempt output in this store (`output`) and remove their local
        log files once it is there: True on PostgreSQL, whose hosts must read any attempt's
        output; False on SQLite, whose one host reads the log files it wrote (the table then
        holds only what `db copy` brought in)."""
        ...

    @property
    def jobs(self) -> Jobs: ...
    @property
    def dispatch(self) -> Dispatch: ...
    @property
    def schedules(self) -> Schedules: ...
    @property
    def dlq(self) -> Dlq: ...
    @property
    def once(self) -> Once: ...
    @property
    def locks(self) -> Locks: ...
    @property
    def sweeps(self) -> Sweeps: ...
    @property
    def audit(self) -> Audit: ...
    @property
    def tokens(self) -> Tokens: ...
    @property
    def daemons(self) -> Daemons: ...
    @property
    def nodes(self) -> Nodes: ...
    @property
    def gangs(self) -> Gangs: ...
    @property
    def chores(self) -> Chores: ...
    @property
    def queues(self) -> Queues: ...
    @property
    def stats(self) -> Stats: ...
    @property
    def health(self) -> Health: ...
    @property
    def metrics(self) -> Metrics: ...
    @property
    def kafka(self) -> Kafka: ...
    @property
    def notify(self) -> Notify: ...
    @property
    def output(self) -> Output: ...

    def changes(self) -> ChangeFeed:
        """A new change feed for this store's thread."""
        ...

    def now(self) -> datetime:
        """The store's clock: the database server's on PostgreSQL (shared by every host)."""
        ...

    def close(self) -> None: ...


__all__ = ["ChangeFeed", "PartitionKey", "Sample", "Store"]
