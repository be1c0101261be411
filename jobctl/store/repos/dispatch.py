"""The daemon's side of jobs: claim, record the spawn, finish, leases, expired-lease requeue.

Every method is one short write transaction; `now` always comes from the caller. `tick` is
the daemon's batch verb: one tick's spawns, finishes and next claims in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from jobctl.domain.durations import from_epoch
from jobctl.domain.failure import Decision
from jobctl.domain.job import Job, State
from jobctl.domain.queues import RateLimit
from jobctl.store.database import Conn, Database, Row
from jobctl.store.records import job_from_row, jobs_from_rows
from jobctl.store.repos import gangs, rates
from jobctl.store.repos.gangs import INSERT_ATTEMPT, Head
from jobctl.store.repos.jobs import cascade_cancel, release_dependants
from jobctl.store.repos.nodes import claim_gate
from jobctl.store.repos.notify import STREAK, finish_events
from jobctl.store.repos.output import OutputRepo, OutputWrite


@dataclass(frozen=True)
class Claim:
    """What may be claimed: at most `slots` jobs, from `queues` (None: all), respecting
    each queue's global concurrency `limits` and `rates` (claims per window). Placement:
    a job placed on a node is claimed only by that `node`, one placed on a tag only by a
    daemon with that tag among `tags`. A draining or forgotten node claims nothing.
    `reserved`: the gang members this runner holds reserved (repos/gangs.py), whose slots
    `slots` leaves out."""

    runner: str
    node: str
    slots: int
    lease: float
    queues: frozenset[str] | None = None
    limits: Mapping[str, int] | None = None
    rates: Mapping[str, RateLimit] | None = None
    tags: frozenset[str] = frozenset()
    reserved: int = 0


@dataclass(frozen=True)
class Finish:
    """The end of one attempt, with the decision the domain made about it."""

    job_id: int
    attempt: int
    runner: str
    decision: Decision
    exit_code: int | None = None
    signal: int | None = None
    error: str | None = None
    duration: float | None = None
    max_rss: int | None = None
    cpu_seconds: float | None = None
    output_tail: str | None = None
    expired_before: datetime | None = None  # reaper: apply only if the lease is still expired
    # The attempt's last output, stored with the ending (a store that keeps output). Stored
    # even when the ending is discarded: the bytes are that attempt's whoever ended it.
    output: OutputWrite | None = None


@dataclass(frozen=True)
class Spawn:
    """An attempt's process, recorded for orphan cleanup, and its log file."""

    job_id: int
    attempt: int
    pid: int | None
    pid_start: int | None
    log_path: str


@dataclass(frozen=True)
class Expired:
    """A running job whose lease ran out (its runner is presumed dead)."""

    job: Job
    attempt: int


@dataclass(frozen=True)
class Orphan:
    """A running attempt started on this node by a runner that is no longer alive."""

    job: Job
    pid: int | None
    pid_start: int | None
    log_path: str | None = None  # the attempt's log file (its spool on a store that keeps output)


@dataclass(frozen=True)
class Tick:
    """What one `DispatchRepo.tick` did: the finishes applied (those whose lease was lost are
    left out), the jobs claimed, and, when fewer than the free slots were claimed, when the
    earliest job not yet due becomes due (epoch seconds; None: none is waiting). `claimed`
    includes gang members started for this runner (perhaps by another daemon's claim: the
    caller skips those it runs already); `reserved`: the gang members it holds reserved."""

    applied: list[Finish]
    claimed: list[Job]
    next_due: float | None = None
    reserved: int = 0


def _serves(claim: Claim, gang: Head) -> bool:
    """Whether the claiming daemon may run members of `gang` (its queues, its placement)."""
    served = claim.queues is None or gang.queue in claim.queues
    return served and gang.placement.matches(claim.node, claim.tags)


_TAKE = (
    "UPDATE jobs SET state = 'running', attempts = attempts + 1, started_at = ?,"
    " lease_owner = ?, lease_expires_at = ?, retry_after = NULL"
)
END_ATTEMPT = (
    "UPDATE attempts SET finished_at = ?, exit_code = ?, signal = ?, failure_class = ?,"
    " duration = ?, max_rss = ?, cpu_seconds = ? WHERE job_id = ? AND attempt = ?"
)


def _ph(values: Sequence[object]) -> str:
    return ",".join("?" * len(values))


class DispatchRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    def claim(self, claim: Claim, now: datetime) -> list[Job]:
        """Atomically move up to `slots` ready jobs to running for this runner (priority
        first, then due time, then enqueue order). Paused queues, full queues and jobs
        behind an earlier live job with the same ordering key are skipped."""
        if claim.slots <= 0 and not claim.reserved:
            return []
        with self.db.write() as conn:
            return self._claim_in(conn, claim, now.timestamp(), due=False).claimed

    def tick(
        self,
        finishes: Sequence[Finish],
        claim: Claim | None,
        now: datetime,
        spawns: Sequence[Spawn] = (),
    ) -> Tick:
        """One daemon tick in ONE write transaction: record `spawns`, apply `finishes` (as
        `finish`), then `claim` (as `claim`; None or no slots: claim nothing), so the slots,
        ordering keys and dependants the finishes free are claimable at once. Atomic: either
        every part is committed together or, on error, none is (the caller may retry all of
        it). A finish is acknowledged only once this commit returns."""
        ts = now.timestamp()
        if claim is not None and claim.slots <= 0 and not claim.reserved:
            claim = None
        if not finishes and not spawns and claim is None:
            return Tick([], [])
        with self.db.write() as conn:
            if spawns:
                self._record_spawns(conn, spawns)
            ended: list[tuple[object, ...]] = []  # attempt rows, updated together
            applied = [f for f in finishes if self._finish_one(conn, f, ts, now, ended)]
            if ended:
                conn.executemany(END_ATTEMPT, ended)
            OutputRepo.write_in(conn, [f.output for f in finishes if f.output is not None])
            if claim is None:
                return Tick(applied, [])
            return replace(self._claim_in(conn, claim, ts, due=True), applied=applied)

    def _claim_in(self, conn: Conn, claim: Claim, ts: float, due: bool) -> Tick:
        """The claim inside the caller's write transaction, gangs first (repos/gangs.py):
        jobs before the first waiting gang in claim order, then reservations for that gang
        (starting it when they make N), then jobs after it with the slots left. Returns the
        jobs to launch, the reservations this runner holds and (with `due`, when fewer than
        the free slots were claimed) when the next job not yet due becomes due. A draining
        or forgotten node claims nothing and gives up its reservations (members already
        started for it are still returned: the daemon puts them back or runs them, as its
        drain says).

        Members started for this runner by another daemon are looked up last: on PostgreSQL
        each statement sees what committed before it, so a start that an earlier statement
        saw (the gang no longer waiting, the reservations no longer held) is seen there too.
        A reservation takes the gang's lock until the commit, so what can be read before it
        (the next due time: a claim or a start changes no job not yet due) is read before.

        A runner with no free slot that holds no reservation any more (the gang it reserved
        for has started: woken by that start, it is to launch its members) has nothing else
        to do here, and is answered with one statement.
        """
        if claim.slots <= 0:
            started, held = gangs.kept(conn, claim.runner, ts)
            if not held:
                return Tick([], started)
        elif not claim.reserved:
            jobs = self._claim_plain(conn, claim, ts)
            if jobs:
                return Tick([], jobs, self._due_after(conn, claim, ts, jobs, due))
        allowed, gangs_waiting = claim_gate(conn, claim.node, ts)
        if not allowed:
            if claim.reserved:
                gangs.release(conn, claim.runner)
            return Tick([], self._started(conn, claim))
        first = gangs.head(conn, ts) if gangs_waiting else None
        if first is None or not _serves(claim, first):
            if claim.reserved:
                gangs.release(conn, claim.runner)
            jobs = self._claim_jobs(conn, claim, ts) if claim.slots > 0 else []
            next_due = self._due_after(conn, claim, ts, jobs, due)
            return Tick([], jobs + self._started(conn, claim), next_due)
        if claim.reserved:
            gangs.release(conn, claim.runner, keep=first.id)
        slots = claim.slots
        ahead = self._claim_jobs(conn, claim, ts, first.key) if slots > 0 else []
        slots -= len(ahead)
        next_due = self._next_due_in(conn, ts, claim.queues) if due and slots > 0 else None
        if slots > 0:
            got = gangs.reserve(conn, first, claim.runner, ts, claim.lease, slots)
            slots -= got.taken
            launched, held = got.launched, got.held
        else:
            launched, held = [], gangs.held(conn, first.id, claim.runner, ts)
        behind = self._claim_jobs(conn, replace(claim, slots=slots), ts) if slots > 0 else []
        claimed = ahead + launched + behind + self._started(conn, claim)
        return Tick([], claimed, next_due, held)

    def _due_after(
        self, conn: Conn, claim: Claim, ts: float, jobs: list[Job], due: bool
    ) -> float | None:
        """With `due`, when fewer than the free slots were claimed: when the next job not
        yet due becomes due."""
        more = due and len(jobs) < claim.slots
        return self._next_due_in(conn, ts, claim.queues) if more else None

    @staticmethod
    def _started(conn: Conn, claim: Claim) -> list[Job]:
        """Running gang members of the claiming runner (some perhaps started by another
        daemon's reservation), when it held reservations: the daemon launches those it does
        not run yet."""
        return gangs.started_for(conn, claim.runner) if claim.reserved else []

    def _claim_jobs(
        self,
        conn: Conn,
        claim: Claim,
        ts: float,
        before: tuple[int, float, int] | None = None,
    ) -> list[Job]:
        """Up to `claim.slots` ready jobs that are no gang's members (only those before
        `before` in claim order, as (-priority, run_at, id), when given)."""
        running = {}
        if claim.limits:
            running = dict(
                conn.execute(
                    "SELECT queue, count(*) FROM jobs WHERE state = 'running' GROUP BY queue"
                ).fetchall()
            )
        excluded: set[str] = set()  # paused queues: left out by _pick's statement itself
        room = {}
        for queue, limit in (claim.limits or {}).items():
            room[queue] = limit - running.get(queue, 0)
            if room[queue] <= 0:
                excluded.add(queue)
        used = rates.usage(conn, claim.rates, ts) if claim.rates else None
        picked = self._pick(conn, claim, excluded, room, ts, used, before)
        return self._take(conn, claim, picked, ts) if picked else []

    def _claim_plain(self, conn: Conn, claim: Claim, ts: float) -> list[Job]:
        """The common claim (SQLite; [] on PostgreSQL, whose claim is one statement
        already): no queue of the claim has a concurrency or rate limit; one pick that also
        checks that the node may claim and that no gang waits due, then the update. [] when
        it picked nothing: then the full claim runs (it tells those cases apart). (One
        UPDATE ... WHERE id IN (the pick) costs SQLite more than the two.)"""
        if claim.limits or claim.rates:
            return []
        where, args = self._ready_where(claim, ts)
        picked = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM jobs INDEXED BY jobs_claim WHERE "
                + " AND ".join(where)
                + " AND NOT EXISTS (SELECT 1 FROM nodes WHERE name = ?"
                " AND (draining = 1 OR forgotten_at IS NOT NULL))"
                " AND NOT EXISTS (SELECT 1 FROM gangs WHERE state = 'waiting' AND run_at <= ?)"
                " ORDER BY priority DESC, run_at, id LIMIT ?",
                [*args, claim.node, ts, claim.slots],
            )
        ]
        return self._take(conn, claim, picked, ts) if picked else []

    @staticmethod
    def _take(conn: Conn, claim: Claim, picked: list[int], ts: float) -> list[Job]:
        """The `picked` jobs to running for the claim, in pick (claim) order, with their
        rate-limit claims and attempt rows."""
        rows = conn.execute(
            f"{_TAKE} WHERE id IN ({_ph(picked)}) RETURNING *",
            [ts, claim.runner, ts + claim.lease, *picked],
        ).fetchall()
        rows.sort(key=lambda r: picked.index(r["id"]))
        if claim.rates:
            limited = claim.rates
            rates.record(
                conn,
                [
                    rates.bucket(r["queue"], r["tenant"], limited[r["queue"]])
                    for r in rows
                    if r["queue"] in limited
                ],
                ts,
            )
        conn.executemany(  # due: the later of run_at and enqueue (a past --at is not a wait)
            INSERT_ATTEMPT,
            [
                (r["id"], r["attempts"], r["queue"], claim.node, claim.runner,
                 max(r["run_at"], r["created_at"]), ts)
                for r in rows
            ],
        )  # fmt: skip
        return jobs_from_rows(rows)

    @staticmethod
    def _ready_where(
        claim: Claim, ts: float, before: tuple[int, float, int] | None = None
    ) -> tuple[list[str], list[object]]:
        """What makes a job claimable by `claim` (limits and rates aside): ready and due, no
        gang's member, in a queue it serves that is not paused, placed where it may run,
        first of its ordering key; with `before`, ahead of that place in claim order."""
        where = [
            "state IN ('queued', 'retrying')",
            "run_at <= ?",
            "gang_id IS NULL",
            "queue NOT IN (SELECT name FROM queues WHERE paused = 1)",
        ]
        args: list[object] = [ts]
        if before is not None:
            where.append("(-priority, run_at, id) < (?, ?, ?)")
            args += before
        if claim.queues is not None:
            where.append(f"queue IN ({_ph(list(claim.queues))})")
            args += sorted(claim.queues)
        where.append("(on_node IS NULL OR on_node = ?)")
        args.append(claim.node)
        tags = sorted(claim.tags)
        where.append(f"(on_tag IS NULL OR on_tag IN ({_ph(tags)}))" if tags else "on_tag IS NULL")
        args += tags
        where.append(
            "(ordering_key IS NULL OR id = (SELECT min(o.id) FROM jobs o"
            " WHERE o.ordering_key = jobs.ordering_key"
            " AND o.state IN ('waiting', 'queued', 'running', 'retrying')))"
        )
        return where, args

    @staticmethod
    def _pick(
        conn: Conn,
        claim: Claim,
        excluded: set[str],
        room: dict[str, int],
        ts: float,
        used: dict[rates.Bucket, int] | None = None,
        before: tuple[int, float, int] | None = None,
    ) -> list[int]:
        limited = claim.rates or {}
        where, args = DispatchRepo._ready_where(claim, ts, before)
        if used is not None:
            for queue, tenant in rates.exhausted(limited, used):
                if limited[queue].per_tenant:
                    where.append("NOT (queue = ? AND coalesce(tenant, '') = ?)")
                    args += [queue, tenant]
                else:
                    excluded.add(queue)
        if excluded:
            where.append(f"queue NOT IN ({_ph(list(excluded))})")
            args += sorted(excluded)
        sql = (
            # INDEXED BY: left alone, SQLite may sort every ready job on each claim
            f"SELECT id, queue{', tenant' if limited else ''}"
            " FROM jobs INDEXED BY jobs_claim WHERE "
            + " AND ".join(where)
            + " ORDER BY priority DESC, run_at, id LIMIT ?"
        )
        picked: list[int] = []
        for row in conn.execute(sql, [*args, claim.slots * 4]):
            queue = row["queue"]
            if queue in room and room[queue] <= 0:
                continue
            if used is not None and queue in limited:
                key = rates.bucket(queue, row["tenant"], limited[queue])
                if used.get(key, 0) >= limited[queue].limit:
                    continue
                used[key] = used.get(key, 0) + 1
            if queue in room:
                room[queue] -= 1
            picked.append(row["id"])
            if len(picked) == claim.slots:
                break
        return picked

    def rate_window(
        self, queue: str, tenant: str | None, rate: RateLimit, now: datetime
    ) -> tuple[int, datetime | None]:
        """Claims counted against this job's rate-limit bucket in the window ending at `now`,
        and when the oldest of them leaves the window (a claim is free again then)."""
        start = now.timestamp() - rate.per
        with self.db.read() as conn:
            count, oldest = rates.window(conn, rates.bucket(queue, tenant, rate), start)
        return count, from_epoch(oldest + rate.per) if oldest is not None else None

    def record_spawns(self, spawns: Sequence[Spawn]) -> None:
        """Remember attempts' processes (for orphan cleanup) and log files."""
        with self.db.write() as conn:
            self._record_spawns(conn, spawns)

    @staticmethod
    def _record_spawns(conn: Conn, spawns: Sequence[Spawn]) -> None:
        conn.executemany(
            "UPDATE attempts SET pid = ?, pid_start = ?, log_path = ?"
            " WHERE job_id = ? AND attempt = ?",
            [(s.pid, s.pid_start, s.log_path, s.job_id, s.attempt) for s in spawns],
        )

    def next_due(self, now: datetime, queues: frozenset[str] | None = None) -> float | None:
        """Epoch seconds of the earliest queued/retrying job not yet due, if any."""
        with self.db.read() as conn:
            return self._next_due_in(conn, now.timestamp(), queues)

    @staticmethod
    def _next_due_in(conn: Conn, ts: float, queues: frozenset[str] | None) -> float | None:
        sql = (
            "SELECT min(run_at) FROM jobs INDEXED BY jobs_due"
            " WHERE state IN ('queued', 'retrying') AND run_at > ?"
        )
        args: list[object] = [ts]
        if queues is not None:
            sql += f" AND queue IN ({_ph(list(queues))})"
            args += sorted(queues)
        result: float | None = conn.execute(sql, args).fetchone()[0]
        return result

    def finish(
        self, finishes: Sequence[Finish], now: datetime, spawns: Sequence[Spawn] = ()
    ) -> list[Finish]:
        """Apply attempt endings in one transaction (recording `spawns` and the endings'
        `output` in the same one). An ending whose lease was lost (the job is no longer
        running this attempt for this runner) is discarded; returns those applied. Their
        notification events (repos/notify.finish_events) are written in it too."""
        return self.tick(finishes, None, now, spawns).applied

    @staticmethod
    def _finish_one(
        conn: Conn, f: Finish, ts: float, now: datetime, ended: list[tuple[object, ...]]
    ) -> bool:
        """Apply one ending (False: its lease was lost). Its attempt row's ending goes to
        `ended`, for the caller to write with the tick's others in one statement; a gang
        member's is written at once (the gang's own bookkeeping updates that row next)."""
        d = f.decision
        state = d.state
        failure = d.failure_class.value if d.failure_class else None
        terminal = state in (State.SUCCEEDED, State.DEAD, State.CANCELLED)
        lease_guard = "" if f.expired_before is None else " AND lease_expires_at < ?"
        guard_args = () if f.expired_before is None else (f.expired_before.timestamp(),)
        row = conn.execute(
            "UPDATE jobs SET state = ?, exit_code = ?, signal = ?, failure_class = ?, error = ?,"
            " output_tail = ?, finished_at = ?, retry_after = ?, run_at = coalesce(?, run_at),"
            " lease_owner = NULL, lease_expires_at = NULL, cancel_requested = 0"
            " WHERE id = ? AND state = 'running' AND lease_owner = ? AND attempts = ?"
            + lease_guard
            + " RETURNING queue, payload, has_dependants, schedule, name, job_type, tenant,"
            " max_attempts, command, nominal_at, gang_id, gang_rank, " + STREAK,
            (
                state.value,
                f.exit_code,
                f.signal,
                failure,
                f.error,
                f.output_tail,
                ts if terminal else None,
                d.retry_after.timestamp() if d.retry_after else None,
                d.retry_after.timestamp() if d.retry_after else None,
                f.job_id,
                f.runner,
                f.attempt,
                *guard_args,
            ),
        ).fetchone()
        if row is None:
            return False
        if state is State.RETRYING:
            conn.notify("jobs")
        attempt = (
            ts, f.exit_code, f.signal, failure, f.duration, f.max_rss, f.cpu_seconds,
            f.job_id, f.attempt,
        )  # fmt: skip
        if row["gang_id"] is not None:
            conn.execute(END_ATTEMPT, attempt)
            _gang_member_ended(conn, f, row, ts, now)
            return True
        ended.append(attempt)
        if d.to_dlq:
            dlq_id = conn.execute(
                "INSERT INTO dlq (job_id, queue, failure_class, error, payload, output_tail,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (f.job_id, row["queue"], failure, f.error, row["payload"], f.output_tail, ts),
            ).fetchone()[0]
            conn.execute("UPDATE jobs SET dlq_id = ? WHERE id = ?", (dlq_id, f.job_id))
        finish_events(conn, f, row, now)
        if row["has_dependants"]:
            if state is State.SUCCEEDED:
                release_dependants(conn, f.job_id, now)
            elif state in (State.DEAD, State.CANCELLED):
                cascade_cancel(conn, [f.job_id], now)
        return True

    def requeue(self, job_id: int, attempt: int, runner: str, now: datetime, reason: str) -> bool:
        """Put a running attempt back without spending it (graceful stop ran out of time). A
        gang member's attempt is closed instead, and its gang stops to run again as one,
        spending no attempt (repos/gangs.py)."""
        with self.db.write() as conn:
            conn.notify("jobs")
            member = conn.execute(
                "UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_expires_at = NULL,"
                " error = ? WHERE id = ? AND state = 'running' AND lease_owner = ?"
                " AND attempts = ? AND gang_id IS NOT NULL RETURNING gang_id, gang_rank",
                (reason, job_id, runner, attempt),
            ).fetchone()
            if member is not None:
                gangs.member_put_back(
                    conn, member["gang_id"], member["gang_rank"], job_id, attempt,
                    now.timestamp(),
                )  # fmt: skip
                return True
            done = conn.execute(
                "UPDATE jobs SET state = 'queued', attempts = attempts - 1, run_at = ?,"
                " lease_owner = NULL, lease_expires_at = NULL, error = ?"
                " WHERE id = ? AND state = 'running' AND lease_owner = ? AND attempts = ?",
                (now.timestamp(), reason, job_id, runner, attempt),
            ).rowcount
            if done:  # the attempt number is given back: its next run starts afresh
                conn.execute(
                    "DELETE FROM attempts WHERE job_id = ? AND attempt = ?", (job_id, attempt)
                )
                OutputRepo.delete_in(conn, job_id, attempt)
            return bool(done)

    def renew_leases(
        self, runner: str, job_ids: Sequence[int], until: datetime, reservations: bool = False
    ) -> None:
        """Extend the leases of this runner's running jobs (one statement per heartbeat), and
        with `reservations` those of the gang members it holds reserved."""
        if not job_ids and not reservations:
            return
        with self.db.write() as conn:
            if reservations:
                gangs.renew(conn, runner, until.timestamp())
            for start in range(0, len(job_ids), 500):
                chunk = list(job_ids[start : start + 500])
                conn.execute(
                    "UPDATE jobs SET lease_expires_at = ?"
                    f" WHERE state = 'running' AND lease_owner = ? AND id IN ({_ph(chunk)})",
                    [until.timestamp(), runner, *chunk],
                )

    def release_reservations(self, runner: str) -> None:
        """Give up the gang members this runner holds reserved (it drains or stops)."""
        with self.db.write() as conn:
            gangs.release(conn, runner)

    def cancel_requested(self, runner: str) -> list[int]:
        """This runner's running jobs that someone asked to cancel."""
        with self.db.read() as conn:
            return [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM jobs WHERE state = 'running' AND lease_owner = ?"
                    " AND cancel_requested = 1",
                    (runner,),
                )
            ]

    def expired(self, now: datetime, limit: int = 500) -> list[Expired]:
        """Running jobs whose lease expired before `now`."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT * FROM jobs WHERE state = 'running' AND lease_expires_at < ? LIMIT ?",
                (now.timestamp(), limit),
            ).fetchall()
        return [Expired(job_from_row(r), r["attempts"]) for r in rows]

    def orphans(self, node: str, runner: str) -> list[Orphan]:
        """Running attempts recorded on `node` by any runner but `runner`. One daemon per
        node holds the node's instance lock, so such a runner is a dead predecessor."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT j.*, a.pid AS attempt_pid, a.pid_start AS attempt_pid_start,"
                " a.log_path AS attempt_log_path"
                " FROM attempts a JOIN jobs j ON j.id = a.job_id AND j.attempts = a.attempt"
                " WHERE a.finished_at IS NULL AND a.node = ? AND j.state = 'running'"
                " AND j.lease_owner != ?",
                (node, runner),
            ).fetchall()
        return [
            Orphan(job_from_row(r), r["attempt_pid"], r["attempt_pid_start"], r["attempt_log_path"])
            for r in rows
        ]

    def ready_count(self, now: datetime) -> int:
        """Jobs due and waiting for a slot (for systemd's STATUS= line)."""
        with self.db.read() as conn:
            return conn.execute(
                "SELECT count(*) FROM jobs INDEXED BY jobs_due"
                " WHERE state IN ('queued', 'retrying') AND run_at <= ?",
                (now.timestamp(),),
            ).fetchone()[0]

    def running_count(self) -> int:
        with self.db.read() as conn:
            return conn.execute("SELECT count(*) FROM jobs WHERE state = 'running'").fetchone()[0]


def _gang_member_ended(conn: Conn, f: Finish, row: Row, ts: float, now: datetime) -> None:
    """A gang member's applied ending (repos/gangs.py): the gang's notification events are
    those of the ending that stopped it or of its last success; dependants of members are
    released when the whole gang succeeded, cancelled when it ended dead or cancelled."""
    d = f.decision
    gang_id = row["gang_id"]
    ending = gangs.member_ended(
        conn, gang_id, row["gang_rank"], f.job_id, f.attempt, d.state,
        d.retry_after.timestamp() if d.retry_after else None, ts,
    )  # fmt: skip
    if ending.stopped or ending.outcome == "succeeded":
        finish_events(conn, f, row, now)
    if ending.outcome not in ("succeeded", "dead", "cancelled"):
        return
    sql = "SELECT id FROM jobs WHERE gang_id = ? AND has_dependants = 1"
    parents = [r[0] for r in conn.execute(sql, (gang_id,))]
    if ending.outcome != "succeeded":
        cascade_cancel(conn, parents, now)
        return
    for parent in parents:
        release_dependants(conn, parent, now)
