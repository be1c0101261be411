"""The daemon's side of jobs: claim, record the spawn, finish, leases, expired-lease requeue.

Every method is one short write transaction; `now` always comes from the caller. `tick` is
the daemon's batch verb: one tick's spawns, finishes and next claims in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from jobctl.domain.durations import from_epoch
from jobctl.domain.failure import Decision
from jobctl.domain.job import Job, State
from jobctl.domain.queues import RateLimit
from jobctl.store.database import Conn, Database
from jobctl.store.records import job_from_row, jobs_from_rows
from jobctl.store.repos import rates
from jobctl.store.repos.jobs import cascade_cancel, release_dependants
from jobctl.store.repos.nodes import may_claim
from jobctl.store.repos.notify import finish_events
from jobctl.store.repos.output import OutputRepo, OutputWrite


@dataclass(frozen=True)
class Claim:
    """What may be claimed: at most `slots` jobs, from `queues` (None: all), respecting
    each queue's global concurrency `limits` and `rates` (claims per window). Placement:
    a job placed on a node is claimed only by that `node`, one placed on a tag only by a
    daemon with that tag among `tags`. A draining or forgotten node claims nothing."""

    runner: str
    node: str
    slots: int
    lease: float
    queues: frozenset[str] | None = None
    limits: Mapping[str, int] | None = None
    rates: Mapping[str, RateLimit] | None = None
    tags: frozenset[str] = frozenset()


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


@dataclass(frozen=True)
class Tick:
    """What one `DispatchRepo.tick` did: the finishes applied (those whose lease was lost are
    left out), the jobs claimed, and, when fewer than the free slots were claimed, when the
    earliest job not yet due becomes due (epoch seconds; None: none is waiting)."""

    applied: list[Finish]
    claimed: list[Job]
    next_due: float | None = None


# A re-claimed attempt number (a requeue gave it back) starts its row afresh.
ATTEMPT_UPSERT = (
    " ON CONFLICT (job_id, attempt) DO UPDATE SET queue = excluded.queue, node = excluded.node,"
    " runner = excluded.runner, due_at = excluded.due_at, started_at = excluded.started_at,"
    " pid = NULL, pid_start = NULL, finished_at = NULL, exit_code = NULL, signal = NULL,"
    " failure_class = NULL, duration = NULL, max_rss = NULL, cpu_seconds = NULL, log_path = NULL"
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
        if claim.slots <= 0:
            return []
        with self.db.write() as conn:
            return self._claim_in(conn, claim, now.timestamp())

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
        if not finishes and not spawns and (claim is None or claim.slots <= 0):
            return Tick([], [])
        with self.db.write() as conn:
            if spawns:
                self._record_spawns(conn, spawns)
            applied = [f for f in finishes if self._finish_one(conn, f, ts, now)]
            OutputRepo.write_in(conn, [f.output for f in finishes if f.output is not None])
            if claim is None or claim.slots <= 0:
                return Tick(applied, [])
            claimed = self._claim_in(conn, claim, ts)
            due = None
            if len(claimed) < claim.slots:
                due = self._next_due_in(conn, ts, claim.queues)
        return Tick(applied, claimed, due)

    def _claim_in(self, conn: Conn, claim: Claim, ts: float) -> list[Job]:
        """The claim inside the caller's write transaction (nothing for a draining or
        forgotten node)."""
        if not may_claim(conn, claim.node):
            return []
        running = {}
        if claim.limits:
            running = dict(
                conn.execute(
                    "SELECT queue, count(*) FROM jobs WHERE state = 'running' GROUP BY queue"
                ).fetchall()
            )
        excluded = {r[0] for r in conn.execute("SELECT name FROM queues WHERE paused = 1")}
        room = {}
        for queue, limit in (claim.limits or {}).items():
            room[queue] = limit - running.get(queue, 0)
            if room[queue] <= 0:
                excluded.add(queue)
        used = rates.usage(conn, claim.rates, ts) if claim.rates else None
        picked = self._pick(conn, claim, excluded, room, ts, used)
        if not picked:
            return []
        rows = conn.execute(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, started_at = ?,"
            " lease_owner = ?, lease_expires_at = ?, retry_after = NULL"
            f" WHERE id IN ({_ph(picked)}) RETURNING *",
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
            "INSERT INTO attempts (job_id, attempt, queue, node, runner, due_at,"
            " started_at) VALUES (?, ?, ?, ?, ?, ?, ?)" + ATTEMPT_UPSERT,
            [
                (r["id"], r["attempts"], r["queue"], claim.node, claim.runner,
                 max(r["run_at"], r["created_at"]), ts)
                for r in rows
            ],
        )  # fmt: skip
        return jobs_from_rows(rows)

    @staticmethod
    def _pick(
        conn: Conn,
        claim: Claim,
        excluded: set[str],
        room: dict[str, int],
        ts: float,
        used: dict[rates.Bucket, int] | None = None,
    ) -> list[int]:
        where = ["state IN ('queued', 'retrying')", "run_at <= ?"]
        args: list[object] = [ts]
        limited = claim.rates or {}
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
    def _finish_one(conn: Conn, f: Finish, ts: float, now: datetime) -> bool:
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
            " max_attempts, command, nominal_at",
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
        conn.execute(
            "UPDATE attempts SET finished_at = ?, exit_code = ?, signal = ?, failure_class = ?,"
            " duration = ?, max_rss = ?, cpu_seconds = ? WHERE job_id = ? AND attempt = ?",
            (
                ts,
                f.exit_code,
                f.signal,
                failure,
                f.duration,
                f.max_rss,
                f.cpu_seconds,
                f.job_id,
                f.attempt,
            ),
        )
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
        """Put a running attempt back without spending it (graceful stop ran out of time)."""
        with self.db.write() as conn:
            conn.notify("jobs")
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

    def renew_leases(self, runner: str, job_ids: Sequence[int], until: datetime) -> None:
        """Extend the leases of this runner's running jobs (one statement per heartbeat)."""
        if not job_ids:
            return
        with self.db.write() as conn:
            for start in range(0, len(job_ids), 500):
                chunk = list(job_ids[start : start + 500])
                conn.execute(
                    "UPDATE jobs SET lease_expires_at = ?"
                    f" WHERE state = 'running' AND lease_owner = ? AND id IN ({_ph(chunk)})",
                    [until.timestamp(), runner, *chunk],
                )

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
                "SELECT j.*, a.pid AS attempt_pid, a.pid_start AS attempt_pid_start"
                " FROM attempts a JOIN jobs j ON j.id = a.job_id AND j.attempts = a.attempt"
                " WHERE a.finished_at IS NULL AND a.node = ? AND j.state = 'running'"
                " AND j.lease_owner != ?",
                (node, runner),
            ).fetchall()
        return [Orphan(job_from_row(r), r["attempt_pid"], r["attempt_pid_start"]) for r in rows]

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
