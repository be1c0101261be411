"""Gang jobs in the store: N member jobs started all together, or none of them.

Claim side, inside a daemon's claim transaction (`head`, `reserve`, `started_for`,
`release`): a daemon with a free slot reserves a member of the first waiting gang that the
live cluster can hold. A reservation leaves the member queued with `lease_owner` = the runner
and its lease timing the reservation (a dead runner's lapses). The transaction that takes the
N-th reservation starts every member at once: the gang's epoch and each member's attempt
number go up by one together, and each reserving daemon launches its own members. Only the
first gang reserves, so two gangs never hold parts of the same slots: no deadlock.

The rule for every other job: one before the first waiting gang in claim order (priority, due
time, id) is claimed as ever; one after it gets only the slots that gang does not need. It
waits at most until N slots have freed, as a gang larger than the live slots in all is never
first (it waits without holding anything).

Finish side (`member_ended`, `member_put_back`): the first member to fail, be cancelled or be
lost stops the gang, and its siblings get a stop request. When none runs any more, the gang is
resolved as one: retried (every member again, one attempt spent in all), dead or cancelled.
A member put back (daemon stop, `node drain --now`) stops the gang the same way, spending no
attempt. The epoch (the members' attempt number) guards every ending: a late one from a stopped
member never touches the retried gang.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from jobctl.domain.durations import from_epoch
from jobctl.domain.job import FailureClass, State
from jobctl.domain.placement import Placement
from jobctl.store.database import Conn, Database
from jobctl.store.records import job_from_row
from jobctl.store.repos.daemons import SILENT_INTERVALS

if TYPE_CHECKING:
    from jobctl.domain.job_record import Job

WAITING, RUNNING, STOPPING = "waiting", "running", "stopping"
PUT_BACK = "put_back"  # stop_state: a member was put back; no attempt is spent
READY = "('queued', 'retrying')"

# A re-claimed attempt number (a requeue gave it back) starts its row afresh.
ATTEMPT_UPSERT = (
    " ON CONFLICT (job_id, attempt) DO UPDATE SET queue = excluded.queue, node = excluded.node,"
    " runner = excluded.runner, due_at = excluded.due_at, started_at = excluded.started_at,"
    " pid = NULL, pid_start = NULL, finished_at = NULL, exit_code = NULL, signal = NULL,"
    " failure_class = NULL, duration = NULL, max_rss = NULL, cpu_seconds = NULL, log_path = NULL"
)
INSERT_ATTEMPT = (
    "INSERT INTO attempts (job_id, attempt, queue, node, runner, due_at, started_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)" + ATTEMPT_UPSERT
)

_LIVE_SLOTS = (
    "SELECT d.node, d.concurrency, n.tags FROM daemons d JOIN nodes n ON n.name = d.node"
    " WHERE d.stopped_at IS NULL"
    f" AND d.heartbeat_at >= ? - {SILENT_INTERVALS} * d.heartbeat_interval"
    " AND n.draining = 0 AND n.forgotten_at IS NULL"
)
# CROSS JOIN: SQLite walks the (few) waiting gangs and looks each one's job up; left to
# choose, it walked every ready job of the jobs table on each daemon tick instead.
_WAITING = (
    "SELECT g.id, g.size, g.priority, g.run_at, j.queue, j.on_node, j.on_tag"
    " FROM gangs g CROSS JOIN jobs j"
    f" WHERE j.id = g.id AND g.state = 'waiting' AND g.run_at <= ? AND j.state IN {READY}"
    " AND NOT EXISTS (SELECT 1 FROM queues p WHERE p.name = j.queue AND p.paused = 1)"
    " ORDER BY g.priority DESC, g.run_at, g.id LIMIT 50"
)


@dataclass(frozen=True)
class Head:
    """The first waiting gang the live cluster can hold."""

    id: int
    size: int
    priority: int
    run_at: float
    queue: str
    placement: Placement

    @property
    def key(self) -> tuple[int, float, int]:
        """Its place in claim order, as (-priority, run_at, id)."""
        return (-self.priority, self.run_at, self.id)


@dataclass(frozen=True)
class Ending:
    """What a member's ending did: `stopped` the running gang (the first failure), and what
    became of the gang once no member ran any more (None: members still run)."""

    stopped: bool
    outcome: str | None


@dataclass(frozen=True)
class Capacity:
    """The live, claiming nodes a placement allows and their slots in all."""

    nodes: int
    slots: int


@dataclass(frozen=True)
class Member:
    """One member of a gang as `show` lists it: where its latest attempt ran."""

    rank: int
    job_id: int
    state: str
    attempts: int
    node: str | None


@dataclass(frozen=True)
class Gang:
    """A gang and its members."""

    id: int
    size: int
    state: str
    epoch: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    members: tuple[Member, ...]
    stop_rank: int | None = None
    reserved: int = 0  # members reserved by live daemons while it waits


def _live_slots(conn: Conn, ts: float) -> list[tuple[str, tuple[str, ...], int]]:
    return [
        (r["node"], tuple(json.loads(r["tags"])) if r["tags"] else (), r["concurrency"] or 0)
        for r in conn.execute(_LIVE_SLOTS, (ts,))
    ]


def capacity_in(conn: Conn, ts: float, placement: Placement) -> Capacity:
    """The live nodes `placement` allows (not draining, not forgotten) and their slots."""
    return _capacity(_live_slots(conn, ts), placement)


def _capacity(live: Sequence[tuple[str, tuple[str, ...], int]], placement: Placement) -> Capacity:
    nodes, slots = set(), 0
    for node, tags, concurrency in live:
        if placement.matches(node, tags):
            nodes.add(node)
            slots += concurrency
    return Capacity(len(nodes), slots)


def head(conn: Conn, ts: float) -> Head | None:
    """The first due waiting gang (claim order) whose members the live cluster can hold; a
    gang larger than that waits, holding nothing, and the next one may go first."""
    rows = conn.execute(_WAITING, (ts,)).fetchall()
    if not rows:
        return None
    live = _live_slots(conn, ts)
    for r in rows:
        placement = Placement(r["on_node"], r["on_tag"])
        if _capacity(live, placement).slots >= r["size"]:
            return Head(r["id"], r["size"], r["priority"], r["run_at"], r["queue"], placement)
    return None


def held(conn: Conn, gang_id: int, runner: str, ts: float) -> int:
    """The live reservations `runner` holds of gang `gang_id` (a runner reserves for one
    gang at a time: the first waiting one)."""
    return conn.execute(
        f"SELECT count(*) FROM jobs WHERE gang_id = ? AND lease_owner = ? AND state IN {READY}"
        " AND lease_expires_at >= ?",
        (gang_id, runner, ts),
    ).fetchone()[0]


def release(conn: Conn, runner: str, keep: int | None = None) -> None:
    """Give up `runner`'s reservations (but those for gang `keep`)."""
    sql = (
        "UPDATE jobs SET lease_owner = NULL, lease_expires_at = NULL WHERE lease_owner = ?"
        f" AND state IN {READY} AND gang_id IS NOT NULL"
    )
    args: list[object] = [runner]
    if keep is not None:
        sql += " AND gang_id != ?"
        args.append(keep)
    conn.execute(sql, args)


@dataclass(frozen=True)
class Reservation:
    """What `reserve` did: the slots it `taken`, the members this runner is to launch now
    (`launched`: those it reserved, when the gang started in this transaction), and the
    reservations it `held` afterwards (0 once the gang started)."""

    taken: int
    launched: list[Job]
    held: int


def reserve(
    conn: Conn, gang: Head, runner: str, ts: float, lease: float, slots: int
) -> Reservation:
    """Reserve up to `slots` more members of `gang` for `runner`; when that makes N, start
    them all. Serialised per gang."""
    conn.serialise(f"gang:{gang.id}")
    live, mine = conn.execute(
        "SELECT count(*), coalesce(sum(CASE WHEN lease_owner = ? THEN 1 ELSE 0 END), 0)"
        f" FROM jobs WHERE gang_id = ? AND state IN {READY}"
        " AND lease_owner IS NOT NULL AND lease_expires_at >= ?",
        (runner, gang.id, ts),
    ).fetchone()
    take, got = min(slots, gang.size - live), 0
    if take > 0:
        got = conn.execute(
            "UPDATE jobs SET lease_owner = ?, lease_expires_at = ? WHERE id IN ("
            f"SELECT id FROM jobs WHERE gang_id = ? AND state IN {READY}"
            " AND (lease_owner IS NULL OR lease_expires_at < ?) ORDER BY gang_rank LIMIT ?)",
            (runner, ts + lease, gang.id, ts, take),
        ).rowcount
    if live + got < gang.size:
        return Reservation(got, [], mine + got)
    return Reservation(got, _start(conn, gang.id, runner, ts, lease), 0)


def _start(conn: Conn, gang_id: int, runner: str, ts: float, lease: float) -> list[Job]:
    """Every member to running at once, each for the runner that reserved it (the others are
    woken to launch theirs); the epoch and every member's attempt number go up by one."""
    rows = conn.execute(
        "UPDATE jobs SET state = 'running', attempts = attempts + 1, started_at = ?,"
        " lease_expires_at = ?, retry_after = NULL, cancel_requested = 0, finished_at = NULL"
        f" WHERE gang_id = ? AND state IN {READY} RETURNING *",
        (ts, ts + lease, gang_id),
    ).fetchall()
    conn.execute(
        "UPDATE gangs SET state = 'running', epoch = epoch + 1, started_at = ?,"
        " stop_state = NULL, stop_rank = NULL, stop_retry_at = NULL WHERE id = ?",
        (ts, gang_id),
    )
    conn.execute(  # each attempt on its runner's node; due: the later of run_at and enqueue
        "INSERT INTO attempts (job_id, attempt, queue, node, runner, due_at, started_at)"
        " SELECT j.id, j.attempts, j.queue, d.node, j.lease_owner,"
        " CASE WHEN j.run_at > j.created_at THEN j.run_at ELSE j.created_at END, ?"
        " FROM jobs j LEFT JOIN daemons d ON d.id = j.lease_owner"
        " WHERE j.gang_id = ? AND j.state = 'running'" + ATTEMPT_UPSERT,
        (ts, gang_id),
    )
    if any(r["lease_owner"] != runner for r in rows):
        conn.notify("jobs")
    return [job_from_row(r) for r in rows if r["lease_owner"] == runner]


def started_for(conn: Conn, runner: str) -> list[Job]:
    """Running gang members of `runner` (another daemon's reservation may have started
    them): the daemon launches those it does not run yet."""
    rows = conn.execute(
        "SELECT * FROM jobs WHERE state = 'running' AND lease_owner = ? AND gang_id IS NOT NULL",
        (runner,),
    ).fetchall()
    return [job_from_row(r) for r in rows]


def kept(conn: Conn, runner: str, ts: float) -> tuple[list[Job], int]:
    """`started_for` and how many live reservations `runner` still holds, in one statement:
    a runner with none left has nothing of a gang's to look after but the members started
    for it."""
    rows = conn.execute(
        "SELECT * FROM jobs WHERE lease_owner = ? AND gang_id IS NOT NULL AND (state = 'running'"
        f" OR (state IN {READY} AND lease_expires_at >= ?))",
        (runner, ts),
    ).fetchall()
    started = [job_from_row(r) for r in rows if r["state"] == "running"]
    return started, len(rows) - len(started)


def renew(conn: Conn, runner: str, until: float) -> None:
    """Extend `runner`'s reservations."""
    conn.execute(
        f"UPDATE jobs SET lease_expires_at = ? WHERE lease_owner = ? AND state IN {READY}"
        " AND gang_id IS NOT NULL",
        (until, runner),
    )


# --- endings ---------------------------------------------------------------------------
def member_ended(
    conn: Conn, gang_id: int, rank: int, job_id: int, attempt: int, decision_state: State,
    retry_at: float | None, ts: float,
) -> Ending:  # fmt: skip
    """An applied ending of a member (its row already holds its own outcome). The first
    failure, cancel or loss of a running gang stops it; an ending while it stops is a
    sibling's (its attempt is marked `preempted` unless it succeeded). The outcome, once no
    member runs: "succeeded", "retrying", "queued", "dead" or "cancelled"."""
    conn.serialise(f"gang:{gang_id}")
    state = conn.execute("SELECT state FROM gangs WHERE id = ?", (gang_id,)).fetchone()[0]
    if state == RUNNING:
        if decision_state is State.SUCCEEDED:
            if _unfinished(conn, gang_id):
                return Ending(False, None)
            conn.execute(
                "UPDATE gangs SET state = 'succeeded', finished_at = ? WHERE id = ?",
                (ts, gang_id),
            )
            return Ending(False, "succeeded")
        _stop(conn, gang_id, rank, decision_state.value, retry_at)
        return Ending(True, resolve(conn, gang_id, ts))
    if state == STOPPING and decision_state is not State.SUCCEEDED:
        conn.execute(
            "UPDATE attempts SET failure_class = ? WHERE job_id = ? AND attempt = ?",
            (FailureClass.PREEMPTED.value, job_id, attempt),
        )
    return Ending(False, resolve(conn, gang_id, ts))


def member_put_back(
    conn: Conn, gang_id: int, rank: int, job_id: int, attempt: int, ts: float
) -> None:
    """A running member is given back (its process was stopped by a daemon stop or `node
    drain --now`; the row is already off running): its attempt is closed as `preempted` and
    the gang stops, to run again without spending an attempt."""
    conn.serialise(f"gang:{gang_id}")
    conn.execute(
        "UPDATE attempts SET finished_at = ?, failure_class = ? WHERE job_id = ? AND attempt = ?",
        (ts, FailureClass.PREEMPTED.value, job_id, attempt),
    )
    state = conn.execute("SELECT state FROM gangs WHERE id = ?", (gang_id,)).fetchone()[0]
    if state == RUNNING:
        _stop(conn, gang_id, rank, PUT_BACK, None)
    resolve(conn, gang_id, ts)


def _unfinished(conn: Conn, gang_id: int) -> bool:
    """Whether a member has not succeeded yet."""
    found = conn.execute(
        "SELECT 1 FROM jobs WHERE gang_id = ? AND state != 'succeeded' LIMIT 1", (gang_id,)
    ).fetchone()
    return found is not None


def _stop(conn: Conn, gang_id: int, rank: int, stop_state: str, retry_at: float | None) -> None:
    conn.execute(
        "UPDATE gangs SET state = 'stopping', stop_state = ?, stop_rank = ?, stop_retry_at = ?"
        " WHERE id = ?",
        (stop_state, rank, retry_at, gang_id),
    )
    if conn.execute(
        "UPDATE jobs SET cancel_requested = 1 WHERE gang_id = ? AND state = 'running'",
        (gang_id,),
    ).rowcount:
        conn.notify("cancel")


def resolve(conn: Conn, gang_id: int, ts: float) -> str | None:
    """A stopping gang none of whose members runs any more, resolved as one (see
    member_ended); None while one still runs."""
    if conn.execute(
        "SELECT 1 FROM jobs WHERE gang_id = ? AND state = 'running' LIMIT 1", (gang_id,)
    ).fetchone():
        return None
    g = conn.execute("SELECT * FROM gangs WHERE id = ?", (gang_id,)).fetchone()
    if g["state"] != STOPPING:
        return None
    stop, rank = g["stop_state"], g["stop_rank"]
    if stop in (State.RETRYING.value, PUT_BACK):
        again = State.RETRYING.value if stop == State.RETRYING.value else State.QUEUED.value
        at = g["stop_retry_at"] if g["stop_retry_at"] is not None else ts
        unspent = ", budget_start = budget_start + 1" if stop == PUT_BACK else ""
        conn.execute(
            "UPDATE jobs SET state = ?, run_at = ?, retry_after = ?, finished_at = NULL,"
            f" lease_owner = NULL, lease_expires_at = NULL, cancel_requested = 0{unspent}"
            " WHERE gang_id = ?",
            (again, at, at if stop == State.RETRYING.value else None, gang_id),
        )
        conn.execute(
            "UPDATE gangs SET state = 'waiting', run_at = ?, stop_state = NULL,"
            " stop_rank = NULL, stop_retry_at = NULL WHERE id = ?",
            (at, gang_id),
        )
        conn.notify("jobs")
        return again
    why = f"gang {gang_id}: stopped because rank {rank} " + (
        "was cancelled" if stop == State.CANCELLED.value else "failed"
    )
    conn.execute(
        "UPDATE jobs SET state = 'cancelled', finished_at = ?, lease_owner = NULL,"
        " lease_expires_at = NULL, cancel_requested = 0,"
        " error = CASE WHEN gang_rank = ? THEN error ELSE ? END WHERE gang_id = ?",
        (ts, rank, why, gang_id),
    )
    if stop == State.DEAD.value:
        failed = conn.execute(
            "UPDATE jobs SET state = 'dead' WHERE gang_id = ? AND gang_rank = ?"
            " RETURNING id, queue, failure_class, error, payload, output_tail",
            (gang_id, rank),
        ).fetchone()
        dlq_id = conn.execute(
            "INSERT INTO dlq (job_id, queue, failure_class, error, payload, output_tail,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (failed["id"], failed["queue"], failed["failure_class"], failed["error"],
             failed["payload"], failed["output_tail"], ts),
        ).fetchone()[0]  # fmt: skip
        conn.execute("UPDATE jobs SET dlq_id = ? WHERE id = ?", (dlq_id, failed["id"]))
    final = "dead" if stop == State.DEAD.value else "cancelled"
    conn.execute("UPDATE gangs SET state = ?, finished_at = ? WHERE id = ?", (final, ts, gang_id))
    return final


def member_ids(conn: Conn, ids: Sequence[int]) -> list[int]:
    """`ids` with every member of each gang among them (a gang is cancelled or retried as
    one), in order, without repeats."""
    out = dict.fromkeys(ids)
    for gang_id in _gangs_of(conn, ids):
        rows = conn.execute("SELECT id FROM jobs WHERE gang_id = ? ORDER BY id", (gang_id,))
        out.update(dict.fromkeys(r[0] for r in rows))
    return list(out)


def waiting_again(conn: Conn, ids: Sequence[int], ts: float) -> None:
    """Gangs among `ids` whose members were all re-queued (`retry`): waiting again, due now."""
    for gang_id in _gangs_of(conn, ids):
        conn.execute(
            "UPDATE gangs SET state = 'waiting', run_at = ?, finished_at = NULL,"
            " stop_state = NULL, stop_rank = NULL, stop_retry_at = NULL WHERE id = ?"
            f" AND NOT EXISTS (SELECT 1 FROM jobs WHERE gang_id = ? AND state NOT IN {READY})",
            (ts, gang_id, gang_id),
        )


def cancel_requested(conn: Conn, ids: Sequence[int], ts: float) -> None:
    """Someone cancelled the members `ids`: a waiting gang all of whose members are cancelled
    now is cancelled; a stopping one ends cancelled, whatever stopped it (a running one stops
    when its first member's cancel ends it)."""
    for gang_id in _gangs_of(conn, ids):
        conn.execute(
            "UPDATE gangs SET state = 'cancelled', finished_at = ? WHERE id = ?"
            " AND state = 'waiting' AND NOT EXISTS (SELECT 1 FROM jobs WHERE gang_id = ?"
            " AND state != 'cancelled')",
            (ts, gang_id, gang_id),
        )
        conn.execute(
            "UPDATE gangs SET stop_state = 'cancelled' WHERE id = ? AND state = 'stopping'",
            (gang_id,),
        )
        resolve(conn, gang_id, ts)


def _gangs_of(conn: Conn, ids: Sequence[int]) -> list[int]:
    """The gangs the jobs `ids` are members of."""
    found: set[int] = set()
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        marks = ",".join("?" * len(chunk))
        found.update(
            r[0]
            for r in conn.execute(
                f"SELECT DISTINCT gang_id FROM jobs WHERE id IN ({marks}) AND gang_id IS NOT NULL",
                chunk,
            )
        )
    return sorted(found)


class GangsRepo:
    """Reading gangs, and the cluster's room for one."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def capacity(self, now: datetime, placement: Placement) -> Capacity:
        """The live nodes `placement` allows and their slots in all (a gang larger than
        that cannot start)."""
        with self.db.read() as conn:
            return capacity_in(conn, now.timestamp(), placement)

    def get(self, gang_id: int, now: datetime | None = None) -> Gang | None:
        """The gang with its members (rank order) and where each last ran, and (given `now`)
        its live reservations; None if unknown."""
        with self.db.read() as conn:
            g = conn.execute("SELECT * FROM gangs WHERE id = ?", (gang_id,)).fetchone()
            if g is None:
                return None
            reserved = 0
            if now is not None:
                reserved = conn.execute(
                    f"SELECT count(*) FROM jobs WHERE gang_id = ? AND state IN {READY}"
                    " AND lease_owner IS NOT NULL AND lease_expires_at >= ?",
                    (gang_id, now.timestamp()),
                ).fetchone()[0]
            rows = conn.execute(
                "SELECT j.id, j.gang_rank, j.state, j.attempts, (SELECT a.node FROM attempts a"
                " WHERE a.job_id = j.id ORDER BY a.attempt DESC LIMIT 1) AS node"
                " FROM jobs j WHERE j.gang_id = ? ORDER BY j.gang_rank",
                (gang_id,),
            ).fetchall()
        members = tuple(
            Member(r["gang_rank"], r["id"], r["state"], r["attempts"], r["node"]) for r in rows
        )
        return Gang(
            id=g["id"],
            size=g["size"],
            state=g["state"],
            epoch=g["epoch"],
            created_at=from_epoch(g["created_at"]),
            started_at=from_epoch(g["started_at"]),
            finished_at=from_epoch(g["finished_at"]),
            members=members,
            stop_rank=g["stop_rank"],
            reserved=reserved,
        )
