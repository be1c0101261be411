"""Jobs: enqueue, read, list, cancel, retry, checkpoints (claims and finishes: dispatch.py)."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jobctl.domain.audit import AuditEntry, ids_target
from jobctl.domain.job import TERMINAL, JobSpec, State, key_held
from jobctl.domain.queues import Backpressure
from jobctl.errors import InvalidInput, JobctlError, NotFound, StoreError, WrongState
from jobctl.store.database import Conflict, Conn, Database
from jobctl.store.records import (
    SPEC_COLUMNS,
    attempt_from_row,
    job_from_row,
    spec_row,
    spec_values,
)
from jobctl.store.repos import gangs
from jobctl.store.repos.audit import AuditRepo
from jobctl.store.repos.backpressure import Shedder

if TYPE_CHECKING:
    from jobctl.domain.job_record import Attempt, Job

LIVE_SQL = "('waiting', 'queued', 'running', 'retrying')"


@dataclass(frozen=True, slots=True)  # slots: no __dict__ a job (bulk enqueues make many)
class Enqueued:
    id: int
    created: bool  # False: an existing live job held the idempotency key


@dataclass(frozen=True)
class Retried:
    """One job of a retry: `skipped` says why it was not retried (None: it was)."""

    id: int
    skipped: str | None = None


@dataclass(frozen=True)
class CancelResult:
    id: int
    outcome: str  # "cancelled" | "requested" (running: the daemon terminates it)


# One enqueue of a group (JobsRepo.enqueue_group): specs, now, backpressure guards, audit.
EnqueueRequest = tuple[
    Sequence[JobSpec], datetime, Mapping[str, Backpressure] | None, AuditEntry | None
]


def _placeholders(values: Sequence[object]) -> str:
    return ",".join("?" * len(values))


def key_holder(conn: Conn, key: str | None, other_than: int | None = None) -> int | None:
    """The live job holding idempotency key `key` (other than job `other_than`), if any:
    enqueue returns it, and retry and `dlq replay` skip a job whose key it holds."""
    if key is None:
        return None
    row = conn.execute(
        f"SELECT id FROM jobs WHERE key = ? AND state IN {LIVE_SQL} AND id <> coalesce(?, 0)",
        (key, other_than),
    ).fetchone()
    return row[0] if row else None


class JobsRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- enqueue -------------------------------------------------------------------------
    def enqueue(
        self,
        specs: Sequence[JobSpec],
        now: datetime,
        backpressure: Mapping[str, Backpressure] | None = None,
        audit: AuditEntry | None = None,
    ) -> list[Enqueued]:
        """Create jobs in one transaction; all or nothing. A live job holding a spec's key
        is returned instead of a new one. An unknown dependency id is InvalidInput. A queue
        in `backpressure` at its max_depth defers the job or, with shed reject, refuses the
        whole batch (Unavailable). `audit`, when given, is recorded in the same transaction
        if a job was created (its target: the new ids)."""
        with self.db.write() as conn:
            conn.notify("jobs")
            return self._enqueue_in(conn, specs, now, backpressure, audit)

    def enqueue_group(
        self, requests: Sequence[EnqueueRequest]
    ) -> list[list[Enqueued] | JobctlError]:
        """Several independent enqueues (each as `enqueue` takes them) in one transaction:
        one commit for all. Each is all or nothing on its own, in a savepoint: one refused
        (InvalidInput, Unavailable, a key conflict) is rolled back and returned as its error,
        in its place, and the others stand. Later requests see the jobs of earlier ones (a
        key held, a queue's depth). Any other error fails the whole group (nothing
        written) and propagates."""
        out: list[list[Enqueued] | JobctlError] = []
        with self.db.write() as conn:
            conn.notify("jobs")
            if all(_plain(request) for request in requests):
                return list(_insert_plain_group(conn, requests))
            for specs, now, backpressure, audit in requests:
                try:
                    out.append(self._enqueue_saved(conn, specs, now, backpressure, audit))
                except JobctlError as exc:
                    out.append(exc)
        return out

    def _enqueue_saved(
        self,
        conn: Conn,
        specs: Sequence[JobSpec],
        now: datetime,
        backpressure: Mapping[str, Backpressure] | None,
        audit: AuditEntry | None,
    ) -> list[Enqueued]:
        """One enqueue of a group in its savepoint. A key conflict (PostgreSQL: another
        transaction committed a live job with the same key meanwhile) is tried once more,
        which then finds that job and returns it, as a held key does."""
        try:
            with conn.savepoint():
                return self._enqueue_in(conn, specs, now, backpressure, audit)
        except Conflict:
            pass
        try:
            with conn.savepoint():
                return self._enqueue_in(conn, specs, now, backpressure, audit)
        except Conflict as exc:
            raise StoreError(f"enqueue refused by a uniqueness rule: {exc}") from None

    def _enqueue_in(
        self,
        conn: Conn,
        specs: Sequence[JobSpec],
        now: datetime,
        backpressure: Mapping[str, Backpressure] | None,
        audit: AuditEntry | None,
    ) -> list[Enqueued]:
        shedder = Shedder(conn, backpressure) if backpressure else None
        if shedder is None:
            done = self._enqueue_runs(conn, specs, now)
        else:
            done = [self._enqueue_one(conn, spec, now, shedder) for spec in specs]
        created = [d.id for d in done if d.created]
        if audit is not None and created:
            AuditRepo.record_in(conn, replace(audit, target=ids_target(created)))
        return done

    def _enqueue_runs(self, conn: Conn, specs: Sequence[JobSpec], now: datetime) -> list[Enqueued]:
        """Specs in order; each run of plain ones (no key, no dependency) is one executemany."""
        done: list[Enqueued] = []
        run: list[JobSpec] = []
        for spec in specs:
            if spec.key is None and not spec.depends_on and spec.gang_size is None:
                run.append(spec)
                continue
            done.extend(_insert_plain(conn, run, now))
            run = []
            done.append(self._enqueue_one(conn, spec, now))
        done.extend(_insert_plain(conn, run, now))
        return done

    def enqueue_in(self, conn: Conn, spec: JobSpec, now: datetime) -> int:
        """Enqueue inside the caller's write transaction (e.g. a schedule's fire)."""
        conn.notify("jobs")
        return self._enqueue_one(conn, spec, now).id

    def _enqueue_one(
        self, conn: Conn, spec: JobSpec, now: datetime, shedder: Shedder | None = None
    ) -> Enqueued:
        holder = key_holder(conn, spec.key)
        if holder is not None:
            return Enqueued(holder, False)
        if shedder is not None:
            spec = shedder.admit(spec, now)
        state = State.QUEUED
        if spec.depends_on:
            state = self._dependency_state(conn, spec.depends_on)
        values = spec_row(spec, now)
        values["state"] = state.value
        if state is State.CANCELLED:
            values["finished_at"] = now.timestamp()
            values["error"] = "a dependency ended dead or cancelled before this job was enqueued"
        members = [values]
        if spec.gang_size is not None:  # N members; the gang's id is rank 0's (repos/gangs.py)
            values.update(gang_rank=0, gang_size=spec.gang_size)
            members += [
                {**values, "key": None, "gang_rank": rank} for rank in range(1, spec.gang_size)
            ]
        columns = ",".join(values)
        insert = f"INSERT INTO jobs ({columns}) VALUES ({_placeholders(list(values))}) RETURNING id"
        ids = [conn.execute(insert, list(m.values())).fetchone()[0] for m in members]
        job_id = ids[0]
        if spec.gang_size is not None:
            conn.execute(
                f"UPDATE jobs SET gang_id = ? WHERE id IN ({_placeholders(ids)})", [job_id, *ids]
            )
            conn.execute(
                "INSERT INTO gangs (id, size, state, priority, run_at, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (job_id, spec.gang_size, "cancelled" if state is State.CANCELLED else "waiting",
                 values["priority"], values["run_at"], values["created_at"]),
            )  # fmt: skip
        if spec.depends_on:
            conn.executemany(
                "INSERT INTO job_deps (job_id, depends_on) VALUES (?, ?) ON CONFLICT DO NOTHING",
                [(member, dep) for member in ids for dep in spec.depends_on],
            )
            marks = _placeholders(spec.depends_on)
            conn.execute(
                f"UPDATE jobs SET has_dependants = 1 WHERE id IN ({marks})", list(spec.depends_on)
            )
        return Enqueued(job_id, True)

    @staticmethod
    def _dependency_state(conn: Conn, deps: Sequence[int]) -> State:
        rows = conn.execute(
            f"SELECT id, state FROM jobs WHERE id IN ({_placeholders(deps)})", list(deps)
        ).fetchall()
        missing = sorted(set(deps) - {r["id"] for r in rows})
        if missing:
            raise InvalidInput(f"--after: unknown job id {missing[0]}")
        states = {r["state"] for r in rows}
        if states & {State.DEAD.value, State.CANCELLED.value}:
            return State.CANCELLED
        if states == {State.SUCCEEDED.value}:
            return State.QUEUED
        return State.WAITING

    # --- reading -------------------------------------------------------------------------
    def get(self, job_id: int) -> Job:
        with self.db.read() as conn:
            row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise NotFound(f"no job with id {job_id}")
            deps = tuple(
                r[0]
                for r in conn.execute(
                    "SELECT depends_on FROM job_deps WHERE job_id = ? ORDER BY depends_on",
                    (job_id,),
                )
            )
        return job_from_row(row, deps)

    def attempts(self, job_id: int) -> list[Attempt]:
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT * FROM attempts WHERE job_id = ? ORDER BY attempt", (job_id,)
            ).fetchall()
        return [attempt_from_row(r) for r in rows]

    def list(
        self,
        now: datetime,
        states: Iterable[str] = (),
        queue: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[Job]:
        """Newest first. `states` may include "scheduled" (queued, not yet due)."""
        where: list[str] = []
        args: list[Any] = []
        wanted = set(states)
        clauses = []
        if "scheduled" in wanted:
            clauses.append("(state = 'queued' AND run_at > ?)")
            args.append(now.timestamp())
            wanted.discard("scheduled")
        if wanted:
            clauses.append(f"state IN ({_placeholders(list(wanted))})")
            args.extend(sorted(wanted))
        if clauses:
            where.append("(" + " OR ".join(clauses) + ")")
        if queue is not None:
            where.append("queue = ?")
            args.append(queue)
        with self.db.read() as conn:
            if since is not None:
                stamp = since.timestamp()
                where.append("id >= ? AND created_at >= ?")
                args.extend((first_id_since(conn, stamp - CLOCK_SLACK), stamp))
            sql = "SELECT * FROM jobs"
            if where:
                sql += " WHERE " + " AND ".join(where)
            sql += " ORDER BY id DESC LIMIT ?"
            args.append(limit)
            rows = conn.execute(sql, args).fetchall()
            deps = self._deps_of(conn, [r["id"] for r in rows])
        return [job_from_row(r, deps.get(r["id"], ())) for r in rows]

    @staticmethod
    def _deps_of(conn: Conn, ids: Sequence[int]) -> dict[int, tuple[int, ...]]:
        out: dict[int, list[int]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for r in conn.execute(
                f"SELECT job_id, depends_on FROM job_deps WHERE job_id IN ({_placeholders(chunk)})"
                " ORDER BY depends_on",
                chunk,
            ):
                out.setdefault(r[0], []).append(r[1])
        return {k: tuple(v) for k, v in out.items()}

    def ids_in_state(self, states: Iterable[str], queue: str | None = None) -> builtins.list[int]:
        wanted = sorted(set(states))
        sql = f"SELECT id FROM jobs WHERE state IN ({_placeholders(wanted)})"
        args: list[object] = list(wanted)
        if queue:
            sql += " AND queue = ?"
            args.append(queue)
        with self.db.read() as conn:
            return [r[0] for r in conn.execute(sql + " ORDER BY id", args)]

    # --- acting --------------------------------------------------------------------------
    def cancel(self, ids: Sequence[int], now: datetime, reason: str) -> builtins.list[CancelResult]:
        """Cancel each job: not running → cancelled now (dependants cascade); running →
        cancel requested, its daemon terminates it. Terminal or unknown → error, nothing done."""
        with self.db.write() as conn:
            rows = {
                r["id"]: r["state"]
                for r in conn.execute(
                    f"SELECT id, state FROM jobs WHERE id IN ({_placeholders(ids)})", list(ids)
                )
            }
            for job_id in ids:
                if job_id not in rows:
                    raise NotFound(f"no job with id {job_id}")
                if State(rows[job_id]) in TERMINAL:
                    raise WrongState(f"job {job_id} is already {rows[job_id]}: nothing to cancel")
            members = gangs.member_ids(conn, ids)  # a gang is cancelled as one
            done = request_cancel(conn, members, now, reason)
            gangs.cancel_requested(conn, members, now.timestamp())
            return done

    def retry(
        self, ids: Sequence[int], now: datetime, request_id: str | None = None
    ) -> builtins.list[Retried]:
        """Dead, cancelled or retrying jobs run again now with a fresh attempt budget (and,
        given one, the request id of the retry, which the daemon's log lines then carry), in
        one transaction. A job whose idempotency key another live job holds (perhaps one
        retried just before it) is skipped, as `dlq replay` skips it; the others are retried.
        An unknown id or a job in another state is an error and nothing changes."""
        retryable = {State.DEAD.value, State.CANCELLED.value, State.RETRYING.value}
        ids = list(dict.fromkeys(ids))
        with self.db.write() as conn:
            conn.notify("jobs")
            rows = {
                r["id"]: r
                for r in conn.execute(
                    f"SELECT id, state, key FROM jobs WHERE id IN ({_placeholders(ids)})", ids
                )
            }
            for job_id in ids:
                if job_id not in rows:
                    raise NotFound(f"no job with id {job_id}")
                if rows[job_id]["state"] not in retryable:
                    raise WrongState(
                        f"job {job_id} is {rows[job_id]['state']}: only dead, cancelled or"
                        " retrying jobs can be retried"
                    )
            out, retried = [], []
            for job_id in ids:
                key = rows[job_id]["key"]
                holder = key_holder(conn, key, other_than=job_id)
                if holder is not None:
                    out.append(Retried(job_id, key_held(key, holder)))
                    continue
                out.append(Retried(job_id))
                retried.append(job_id)
                if key is not None:  # it holds the key now: a later job with it is skipped
                    self._requeue(conn, [job_id], now, request_id)
            unkeyed = [job_id for job_id in retried if rows[job_id]["key"] is None]
            siblings = [m for m in gangs.member_ids(conn, retried) if m not in rows]
            unkeyed += siblings  # a gang runs again as one (its key is rank 0's)
            for start in range(0, len(unkeyed), 500):
                self._requeue(conn, unkeyed[start : start + 500], now, request_id)
            gangs.waiting_again(conn, retried, now.timestamp())
            return out

    @staticmethod
    def _requeue(
        conn: Conn, ids: builtins.list[int], now: datetime, request_id: str | None
    ) -> None:
        conn.execute(
            "UPDATE jobs SET state = 'queued', run_at = ?, retry_after = NULL,"
            " budget_start = attempts, finished_at = NULL, cancel_requested = 0,"
            " request_id = coalesce(?, request_id)"
            f" WHERE id IN ({_placeholders(ids)})",
            [now.timestamp(), request_id, *ids],
        )

    def set_checkpoint(self, job_id: int, value: str, epoch: int | None = None) -> None:
        """Save the job's checkpoint. With `epoch` (a gang member's: the attempt it runs in),
        refused (WrongState) once the gang has moved on to a later epoch."""
        with self.db.write() as conn:
            sql, args = "UPDATE jobs SET checkpoint = ? WHERE id = ?", [value, job_id]
            if epoch is not None:
                sql += " AND attempts = ?"
                args.append(epoch)
            if conn.execute(sql, args).rowcount:
                return
            row = conn.execute("SELECT attempts FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise NotFound(f"no job with id {job_id}")
            raise WrongState(
                f"job {job_id}: a checkpoint from gang epoch {epoch} is refused: the gang is"
                f" at epoch {row[0]} now"
            )

    def purge_queue(self, queue: str, now: datetime) -> int:
        """Cancel every job of the queue that has not started; returns how many."""
        with self.db.write() as conn:
            ids = [
                r[0]
                for r in conn.execute(
                    "UPDATE jobs SET state = 'cancelled', finished_at = ?, error = 'queue purged'"
                    " WHERE queue = ? AND state IN ('waiting', 'queued', 'retrying') RETURNING id",
                    (now.timestamp(), queue),
                )
            ]
            cascade_cancel(conn, ids, now)
            return len(ids)


CLOCK_SLACK = 300.0  # seconds enqueuers' clocks may disagree (ids vs created_at order)


def first_id_since(conn: Conn, stamp: float) -> int:
    """The smallest job id created at or after `stamp`, by bisection on the primary key
    (ids grow with created_at; callers keep their exact created_at filter)."""
    lo, hi = conn.execute(  # two subqueries: min and max together would scan the table
        "SELECT (SELECT min(id) FROM jobs), (SELECT max(id) FROM jobs)"
    ).fetchone()
    if lo is None:
        return 0
    hi += 1
    while lo < hi:
        mid = (lo + hi) // 2
        found_id, created_at = conn.execute(
            "SELECT id, created_at FROM jobs WHERE id >= ? ORDER BY id LIMIT 1", (mid,)
        ).fetchone()
        if created_at >= stamp:
            hi = mid
        else:
            lo = found_id + 1
    return lo


INSERT_QUEUED = (
    f"INSERT INTO jobs (state, {', '.join(SPEC_COLUMNS)})"
    f" VALUES ('queued', {_placeholders(SPEC_COLUMNS)})"
)


def _plain(request: EnqueueRequest) -> bool:
    """An enqueue that can only insert its jobs (no key, dependency, gang or backpressure
    to check): nothing of it can be refused on its own."""
    specs, _now, backpressure, _audit = request
    return not backpressure and all(
        s.key is None and not s.depends_on and s.gang_size is None for s in specs
    )


def _insert_plain_group(conn: Conn, requests: Sequence[EnqueueRequest]) -> Iterator[list[Enqueued]]:
    """Plain enqueues of a group (_plain): every job in one prepared statement, with no
    savepoint each (there is nothing to roll back alone); each request's own jobs and
    audit entry, in order."""
    rows = [spec_values(spec, now.timestamp()) for specs, now, _, _ in requests for spec in specs]
    ids = iter(conn.insert_ids(INSERT_QUEUED, rows))
    for specs, _now, _backpressure, audit in requests:
        mine = [next(ids) for _ in specs]
        if audit is not None and mine:
            AuditRepo.record_in(conn, replace(audit, target=ids_target(mine)))
        yield [Enqueued(job_id, True) for job_id in mine]


def _insert_plain(conn: Conn, specs: Sequence[JobSpec], now: datetime) -> list[Enqueued]:
    """Insert queued jobs with one prepared statement; their ids, in order."""
    if not specs:
        return []
    stamp = now.timestamp()
    ids = conn.insert_ids(INSERT_QUEUED, [spec_values(spec, stamp) for spec in specs])
    return [Enqueued(job_id, True) for job_id in ids]


def request_cancel(
    conn: Conn, ids: Sequence[int], now: datetime, reason: str
) -> list[CancelResult]:
    """Live jobs: a running one gets a cancel request (its daemon terminates it); any other is
    cancelled now, its waiting dependants with it. Terminal jobs are left alone."""
    results = []
    for job_id in ids:
        if conn.execute(
            "UPDATE jobs SET cancel_requested = 1 WHERE id = ? AND state = 'running'", (job_id,)
        ).rowcount:
            conn.notify("cancel")
            results.append(CancelResult(job_id, "requested"))
        elif conn.execute(
            "UPDATE jobs SET state = 'cancelled', finished_at = ?, error = ?"
            " WHERE id = ? AND state IN ('waiting', 'queued', 'retrying')",
            (now.timestamp(), reason, job_id),
        ).rowcount:
            cascade_cancel(conn, [job_id], now)
            results.append(CancelResult(job_id, "cancelled"))
    return results


def cascade_cancel(conn: Conn, ids: Sequence[int], now: datetime) -> None:
    """Cancel (transitively) the waiting dependants of jobs that ended dead or cancelled."""
    frontier = list(ids)
    while frontier:
        found: list[int] = []
        for start in range(0, len(frontier), 500):
            chunk = frontier[start : start + 500]
            found += [
                r[0]
                for r in conn.execute(
                    "UPDATE jobs SET state = 'cancelled', finished_at = ?,"
                    " error = 'a dependency ended dead or cancelled'"
                    " WHERE state = 'waiting' AND id IN (SELECT job_id FROM job_deps"
                    f" WHERE depends_on IN ({_placeholders(chunk)})) RETURNING id",
                    [now.timestamp(), *chunk],
                )
            ]
        frontier = found


def release_dependants(conn: Conn, job_id: int, now: datetime) -> None:
    """A job succeeded: waiting dependants whose dependencies all succeeded become queued."""
    conn.notify("jobs")
    conn.execute(
        "UPDATE jobs SET state = 'queued', run_at = CASE WHEN run_at > ? THEN run_at ELSE ? END"
        " WHERE state = 'waiting' AND id IN (SELECT job_id FROM job_deps WHERE depends_on = ?)"
        " AND NOT EXISTS (SELECT 1 FROM job_deps d JOIN jobs p ON p.id = d.depends_on"
        "   WHERE d.job_id = jobs.id AND p.state != 'succeeded')",
        (now.timestamp(), now.timestamp(), job_id),
    )
