"""The notification outbox (SPEC "Notifications"): events written in the transaction of the
change that caused them (`record_in`, `finish_events`, `fire_events`), routed once into
deliveries (`route`), folded into digests (`digests`), claimed under a lease by whichever
daemon delivers (`claim`), and settled (`delivered`, `failed`).

Routing and digests serialise on one name, so racing daemons never route an event twice;
a claim leases its rows, so a delivery is sent by one daemon at a time and a daemon killed
while sending leaves it to another once the lease ends (at least once).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jobctl.domain.durations import from_epoch, iso_z
from jobctl.domain.job import State
from jobctl.domain.notify import MISSED_REASONS, Event, Planned, Window
from jobctl.errors import InvalidInput, NotFound
from jobctl.store.database import Conn, Database, Row
from jobctl.store.records import dumps, loads

if TYPE_CHECKING:
    from jobctl.store.repos.dispatch import Finish

TAIL_CHARS = 2000  # the output tail an event carries (the email's "last lines")
STATES = ("pending", "sending", "retrying", "delivered", "dead", "folded")
# Route: (new events, current windows) → deliveries to create, windows changed
Router = Callable[[list[Event], dict[str, Window]], tuple[list[Planned], dict[str, Window]]]


@dataclass(frozen=True)
class Delivery:
    """One event (or a digest of folded events) through a route to a channel."""

    id: int
    kind: str  # event | digest | test
    route: str | None
    channel: str
    state: str
    attempts: int
    created_at: datetime
    next_at: datetime | None
    finished_at: datetime | None
    answer: str | None
    error: str | None
    event: Event | None = None  # kind event
    folded: tuple[Event, ...] = ()  # kind digest: the events it carries
    digest_id: int | None = None  # folded: the digest that carried it


@dataclass(frozen=True)
class Settled:
    """How one leased delivery attempt ended: delivered (`error` None), or failed and
    retried at `retry_at` (None: given up, dead)."""

    delivery_id: int
    attempt: int
    answer: str | None
    error: str | None = None
    retry_at: datetime | None = None


def _event(row: Row) -> Event:
    body = loads(row["body"]) or {}
    return Event(row["id"], row["kind"], from_epoch(row["at"]), body)


def record_in(
    conn: Conn, kind: str, now: datetime, body: Mapping[str, Any], dedup: str | None = None
) -> int | None:
    """Write one event inside the caller's transaction; with `dedup`, only the first of
    that key is written (None is returned for the others)."""
    row = conn.execute(
        "INSERT INTO notify_events (kind, at, dedup, state, body) VALUES (?, ?, ?, 'new', ?)"
        " ON CONFLICT DO NOTHING RETURNING id",
        (kind, now.timestamp(), dedup, dumps(dict(body))),
    ).fetchone()
    return None if row is None else row[0]


def subject_of(schedule: str | None, name: str | None, job_type: str | None) -> str | None:
    """What a failure streak counts: the schedule, else the job's name, else its type."""
    if schedule:
        return f"schedule:{schedule}"
    if name:
        return f"name:{name}"
    if job_type:
        return f"type:{job_type}"
    return None


# The job's streak subject (subject_of) in SQL, and its failures so far: read by the finish's
# own jobs update (RETURNING ..., STREAK), not by a statement of its own per finish.
SUBJECT_SQL = (
    "coalesce('schedule:' || nullif(schedule, ''), 'name:' || nullif(name, ''),"
    " 'type:' || nullif(job_type, ''))"
)
STREAK = f"(SELECT failures FROM notify_streaks WHERE subject = {SUBJECT_SQL}) AS streak"


def finish_events(conn: Conn, f: Finish, job: Row, now: datetime) -> None:
    """Inside dispatch.finish's transaction, for one applied attempt ending: `failed`
    (a retry remains), `dead` (counted in the subject's streak; `pause_after` reached →
    the schedule is paused and `paused` written), `recovered` (the first success after a
    streak), `too_short` (a success under the schedule's min_runtime). `job`: the row the
    finish's update returned, with the subject's failures so far as `streak` (STREAK), read
    in the same transaction before this ending."""
    state = f.decision.state
    if state not in (State.RETRYING, State.DEAD, State.SUCCEEDED):
        return
    sched = None
    if job["schedule"]:
        sched = conn.execute(
            "SELECT owner, severity, min_runtime, pause_after, enabled, mailto"
            " FROM schedules WHERE name = ?",
            (job["schedule"],),
        ).fetchone()
    subject = subject_of(job["schedule"], job["name"], job["job_type"])
    if state is State.SUCCEEDED:  # the common ending: most write no event (no body built)
        failures = job["streak"]
        if subject is not None and failures:
            conn.execute(
                "UPDATE notify_streaks SET failures = 0, updated_at = ? WHERE subject = ?",
                (now.timestamp(), subject),
            )
            body = _job_body(f, job, sched, subject)
            record_in(conn, "recovered", now, {**body, "streak": failures})
        if sched is not None and sched["mailto"] and f.output_tail:
            record_in(conn, "output", now, _job_body(f, job, sched, subject))
        floor = sched["min_runtime"] if sched is not None else None
        if floor and f.duration is not None and f.duration < floor:
            body = _job_body(f, job, sched, subject)
            record_in(conn, "too_short", now, {**body, "min_runtime": floor})
        return
    body = _job_body(f, job, sched, subject)
    if state is State.RETRYING:
        streak = 1 + ((job["streak"] or 0) if subject is not None else 0)
        record_in(conn, "failed", now, {**body, "retrying": True, "streak": streak})
        return
    streak = 1
    if subject is not None:
        streak = conn.execute(
            "INSERT INTO notify_streaks (subject, failures, updated_at) VALUES (?, 1, ?)"
            " ON CONFLICT (subject) DO UPDATE SET failures = notify_streaks.failures + 1,"
            " updated_at = excluded.updated_at RETURNING failures",
            (subject, now.timestamp()),
        ).fetchone()[0]
    record_in(conn, "dead", now, {**body, "retrying": False, "streak": streak})
    pause_after = sched["pause_after"] if sched is not None else None
    if sched is not None and pause_after and sched["enabled"] and streak >= pause_after:
        reason = f"{streak} consecutive failed runs (pause_after {pause_after})"
        conn.execute(
            "UPDATE schedules SET enabled = 0, paused_reason = ?, updated_at = ? WHERE name = ?",
            (reason, now.timestamp(), job["schedule"]),
        )
        conn.notify("schedules")
        record_in(conn, "paused", now, {**body, "streak": streak, "reason": reason})


def _job_body(f: Finish, job: Row, sched: Row | None, subject: str | None) -> dict[str, Any]:
    d = f.decision
    tail = f.output_tail or ""
    return {
        "subject": subject,
        "job_id": f.job_id,
        "attempt": f.attempt,
        "max_attempts": job["max_attempts"],
        "name": job["name"],
        "queue": job["queue"],
        "schedule": job["schedule"],
        "job_type": job["job_type"],
        "tenant": job["tenant"],
        "owner": sched["owner"] if sched is not None else None,
        "severity": sched["severity"] if sched is not None else None,
        "mailto": sched["mailto"] if sched is not None else None,
        "node": f.runner.split(":", 1)[0] or None,
        "command": loads(job["command"]),
        "state": d.state.value,
        "exit_code": f.exit_code,
        "signal": f.signal,
        "failure_class": d.failure_class.value if d.failure_class else None,
        "error": f.error,
        "duration": f.duration,
        "output_tail": tail[-TAIL_CHARS:] or None,
        "nominal_at": iso_z(from_epoch(job["nominal_at"])),
    }


def fire_events(
    conn: Conn, name: str, recorded: Sequence[tuple[str, datetime]], now: datetime
) -> None:
    """Inside record_fires' transaction: a `missed` event for each fire recorded with a
    missed-run reason worth telling (no daemon, overlap, DST skip)."""
    missed = [(reason, at) for reason, at in recorded if reason in MISSED_REASONS]
    if not missed:
        return
    sched = conn.execute(
        "SELECT queue, owner, severity FROM schedules WHERE name = ?", (name,)
    ).fetchone()
    for reason, at in missed:
        body = {
            "subject": f"schedule:{name}",
            "schedule": name,
            "queue": sched["queue"] if sched else None,
            "owner": sched["owner"] if sched else None,
            "severity": sched["severity"] if sched else None,
            "nominal_at": iso_z(at),
            "reason": reason,
        }
        record_in(conn, "missed", now, body, dedup=f"missed:{name}:{at.timestamp()}")


def _delivery(row: Row, events: Mapping[int, Event], folded: Sequence[Event] = ()) -> Delivery:
    return Delivery(
        id=row["id"],
        kind=row["kind"],
        route=row["route"],
        channel=row["channel"],
        state=row["state"],
        attempts=row["attempts"],
        created_at=from_epoch(row["created_at"]),
        next_at=from_epoch(row["next_at"]),
        finished_at=from_epoch(row["finished_at"]),
        answer=row["answer"],
        error=row["error"],
        event=events.get(row["event_id"]) if row["event_id"] is not None else None,
        folded=tuple(folded),
        digest_id=row["digest_id"],
    )


class NotifyRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(
        self, kind: str, now: datetime, body: Mapping[str, Any], dedup: str | None = None
    ) -> int | None:
        """Write one event in its own transaction (events a scan finds: too_long, deadline,
        node_down, dlq_growth); with `dedup`, once per key. Returns its id, or None."""
        with self.db.write() as conn:
            return record_in(conn, kind, now, body, dedup)

    def record_too_long(self, now: datetime) -> int:
        """A `too_long` event (once per attempt) for each running job of a schedule with a
        max_runtime that has run longer, cluster-wide; returns how many were new."""
        ts = now.timestamp()
        made = 0
        with self.db.read() as conn:  # the usual case, nothing overdue, writes nothing
            rows = conn.execute(
                "SELECT j.id, j.attempts, j.name, j.queue, j.schedule, j.job_type, j.tenant,"
                " j.started_at, j.lease_owner, j.command, s.max_runtime, s.owner, s.severity"
                " FROM jobs j JOIN schedules s ON s.name = j.schedule"
                " WHERE j.state = 'running' AND s.max_runtime IS NOT NULL"
                " AND j.started_at + s.max_runtime < ?",
                (ts,),
            ).fetchall()
        if not rows:
            return 0
        with self.db.write() as conn:
            for r in rows:
                body = {
                    "subject": f"schedule:{r['schedule']}",
                    "job_id": r["id"],
                    "attempt": r["attempts"],
                    "name": r["name"],
                    "queue": r["queue"],
                    "schedule": r["schedule"],
                    "job_type": r["job_type"],
                    "tenant": r["tenant"],
                    "owner": r["owner"],
                    "severity": r["severity"],
                    "node": (r["lease_owner"] or "").split(":", 1)[0] or None,
                    "command": loads(r["command"]),
                    "running_for": round(ts - r["started_at"], 3),
                    "max_runtime": r["max_runtime"],
                }
                dedup = f"too_long:{r['id']}:{r['attempts']}"
                made += record_in(conn, "too_long", now, body, dedup) is not None
        return made

    def record_node_down(self, now: datetime, within: float = 86400.0) -> int:
        """A `node_down` event, once per daemon, for each daemon that stopped heartbeating
        (3 of its intervals) without stopping cleanly, in the last `within` seconds."""
        from jobctl.store.repos.daemons import SILENT_INTERVALS

        ts = now.timestamp()
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT id, node, host, pid, heartbeat_at FROM daemons WHERE stopped_at IS NULL"
                f" AND heartbeat_at < ? - {SILENT_INTERVALS} * heartbeat_interval"
                " AND heartbeat_at >= ?",
                (ts, ts - within),
            ).fetchall()
        if not rows:
            return 0
        made = 0
        with self.db.write() as conn:
            for r in rows:
                body = {
                    "subject": f"node:{r['node']}",
                    "node": r["node"],
                    "host": r["host"],
                    "pid": r["pid"],
                    "heartbeat_at": iso_z(from_epoch(r["heartbeat_at"])),
                    "reason": f"daemon {r['id']} stopped heartbeating",
                }
                made += record_in(conn, "node_down", now, body, f"node_down:{r['id']}") is not None
        return made

    def record_dlq_growth(self, now: datetime, over: int, window: float = 3600.0) -> int:
        """A `dlq_growth` event per queue whose dead letters of the last `window` seconds
        are more than `over`, at most once per queue per window."""
        ts = now.timestamp()
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT queue, count(*) FROM dlq WHERE created_at >= ? GROUP BY queue"
                " HAVING count(*) > ?",
                (ts - window, over),
            ).fetchall()
        if not rows:
            return 0
        made = 0
        bucket = int(ts // window)
        with self.db.write() as conn:
            for queue, count in [(r[0], r[1]) for r in rows]:
                body = {
                    "subject": f"dlq:{queue}",
                    "queue": queue,
                    "added": count,
                    "window": window,
                    "reason": f"{count} dead letters in the last {window:g}s (over {over})",
                }
                dedup = f"dlq_growth:{queue}:{bucket}"
                made += record_in(conn, "dlq_growth", now, body, dedup) is not None
        return made

    def pending(self, now: datetime) -> bool:
        """Whether routing or delivery has anything to do at `now` (a cheap read)."""
        with self.db.read() as conn:
            return bool(
                conn.execute(
                    "SELECT 1 FROM notify_events WHERE state = 'new' UNION ALL"
                    " SELECT 1 FROM notify_deliveries WHERE state IN ('pending', 'retrying',"
                    " 'sending') AND coalesce(lease_until, next_at) <= ? UNION ALL"
                    " SELECT 1 FROM notify_deliveries WHERE state = 'folded'"
                    " AND digest_id IS NULL LIMIT 1",
                    (now.timestamp(),),
                ).fetchone()
            )

    def route(self, now: datetime, router: Router, limit: int = 500) -> int:
        """Route the oldest new events exactly once (serialised against every daemon):
        `router` decides the deliveries and max_per windows; events no route wants become
        `unrouted`. Returns how many events were routed."""
        ts = now.timestamp()
        with self.db.write() as conn:
            conn.serialise("jobctl:notify")
            rows = conn.execute(
                "SELECT * FROM notify_events WHERE state = 'new' ORDER BY id LIMIT ?", (limit,)
            ).fetchall()
            if not rows:
                return 0
            events = [_event(r) for r in rows]
            windows = {
                r["route"]: Window(r["route"], from_epoch(r["started_at"]), r["sent"])
                for r in conn.execute("SELECT * FROM notify_windows")
            }
            planned, changed = router(events, windows)
            conn.executemany(
                "INSERT INTO notify_deliveries (event_id, kind, route, channel, state,"
                " created_at, next_at) VALUES (?, 'event', ?, ?, ?, ?, ?)",
                [
                    (p.event_id, p.route, p.channel, "folded" if p.folded else "pending", ts,
                     None if p.folded else ts)
                    for p in planned
                ],
            )  # fmt: skip
            conn.executemany(
                "INSERT INTO notify_windows (route, started_at, sent) VALUES (?, ?, ?)"
                " ON CONFLICT (route) DO UPDATE SET started_at = excluded.started_at,"
                " sent = excluded.sent",
                [
                    (w.route, w.started_at.timestamp() if w.started_at else None, w.sent)
                    for w in changed.values()
                ],
            )
            routed = {p.event_id for p in planned}
            conn.executemany(
                "UPDATE notify_events SET state = ? WHERE id = ?",
                [("routed" if e.id in routed else "unrouted", e.id) for e in events],
            )
        return len(events)

    def digests(self, now: datetime, due: Callable[[str, Window], bool]) -> int:
        """For each route and channel with folded deliveries whose window `due` says has
        ended, one digest delivery carrying them. Returns how many digests were made."""
        ts = now.timestamp()
        made = 0
        with self.db.write() as conn:
            conn.serialise("jobctl:notify")
            groups = conn.execute(
                "SELECT DISTINCT route, channel FROM notify_deliveries"
                " WHERE state = 'folded' AND digest_id IS NULL"
            ).fetchall()
            windows = {
                r["route"]: Window(r["route"], from_epoch(r["started_at"]), r["sent"])
                for r in conn.execute("SELECT * FROM notify_windows")
            }
            for route, channel in [(g[0], g[1]) for g in groups]:
                if not due(route, windows.get(route) or Window(route)):
                    continue
                (digest_id,) = conn.execute(
                    "INSERT INTO notify_deliveries (kind, route, channel, state, created_at,"
                    " next_at) VALUES ('digest', ?, ?, 'pending', ?, ?) RETURNING id",
                    (route, channel, ts, ts),
                ).fetchone()
                conn.execute(
                    "UPDATE notify_deliveries SET digest_id = ? WHERE state = 'folded'"
                    " AND digest_id IS NULL AND route = ? AND channel = ?",
                    (digest_id, route, channel),
                )
                made += 1
        return made

    def claim(
        self,
        now: datetime,
        limit: int,
        lease: float,
        busy: Mapping[str, int] | None = None,
        per_channel: int | None = None,
    ) -> list[Delivery]:
        """Lease up to `limit` due deliveries (pending, retrying past their time, or sending
        under a lease that ran out), oldest due first, at most `per_channel` of a channel
        counting the `busy` sends already in flight; each attempt counted. No delivery is
        leased by two daemons at once."""
        if limit <= 0:
            return []
        ts = now.timestamp()
        counts = dict(busy or {})
        with self.db.write() as conn:
            conn.serialise("jobctl:notify-claim")
            ids = []
            for r in conn.execute(
                "SELECT id, channel FROM notify_deliveries"
                " WHERE (state IN ('pending', 'retrying') AND next_at <= ?)"
                " OR (state = 'sending' AND lease_until < ?)"
                " ORDER BY coalesce(lease_until, next_at), id LIMIT ?",
                (ts, ts, limit * 4),
            ):
                if per_channel is not None and counts.get(r["channel"], 0) >= per_channel:
                    continue
                counts[r["channel"]] = counts.get(r["channel"], 0) + 1
                ids.append(r["id"])
                if len(ids) == limit:
                    break
            if not ids:
                return []
            marks = ",".join("?" * len(ids))
            rows = conn.execute(
                "UPDATE notify_deliveries SET state = 'sending', attempts = attempts + 1,"
                f" lease_until = ? WHERE id IN ({marks}) RETURNING *",
                [ts + lease, *ids],
            ).fetchall()
            return self._load(conn, sorted(rows, key=lambda r: ids.index(r["id"])))

    def _load(self, conn: Conn, rows: Sequence[Row]) -> list[Delivery]:
        """Deliveries with their events (and a digest's folded events)."""
        event_ids = {r["event_id"] for r in rows if r["event_id"] is not None}
        digests = [r["id"] for r in rows if r["kind"] == "digest"]
        folded: dict[int, list[int]] = {d: [] for d in digests}
        for start in range(0, len(digests), 500):
            chunk = digests[start : start + 500]
            for r in conn.execute(
                "SELECT digest_id, event_id FROM notify_deliveries"
                f" WHERE digest_id IN ({','.join('?' * len(chunk))}) ORDER BY id",
                chunk,
            ):
                folded[r[0]].append(r[1])
                event_ids.add(r[1])
        events: dict[int, Event] = {}
        ids = sorted(event_ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for r in conn.execute(
                f"SELECT * FROM notify_events WHERE id IN ({','.join('?' * len(chunk))})", chunk
            ):
                events[r["id"]] = _event(r)
        return [
            _delivery(r, events, [events[i] for i in folded.get(r["id"], ()) if i in events])
            for r in rows
        ]

    def settle(self, outcomes: Sequence[Settled], now: datetime) -> int:
        """Record leased attempts' outcomes in one transaction: delivered (no error),
        retrying at `retry_at`, or dead (failed, no retry_at), for the operator (`notify
        list --state dead`, `notify retry`). An outcome whose lease was lost to another
        daemon is ignored; returns how many were recorded."""
        ts = now.timestamp()
        done = 0
        with self.db.write() as conn:
            for o in outcomes:
                if o.error is None:
                    state, next_at, finished = "delivered", None, ts
                elif o.retry_at is not None:
                    state, next_at, finished = "retrying", o.retry_at.timestamp(), None
                else:
                    state, next_at, finished = "dead", None, ts
                done += conn.execute(
                    "UPDATE notify_deliveries SET state = ?, next_at = ?, finished_at = ?,"
                    " answer = ?, error = ?, lease_until = NULL"
                    " WHERE id = ? AND attempts = ? AND state = 'sending'",
                    (state, next_at, finished, o.answer, o.error, o.delivery_id, o.attempt),
                ).rowcount
        return done

    def get(self, delivery_id: int) -> Delivery:
        """NotFound when there is no such delivery."""
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT * FROM notify_deliveries WHERE id = ?", (delivery_id,)
            ).fetchone()
            if row is None:
                raise NotFound(f"no notification with id {delivery_id}")
            return self._load(conn, [row])[0]

    def events(self, limit: int = 100) -> list[Event]:
        """The newest events, newest first (routed or not)."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT * FROM notify_events ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [_event(r) for r in rows]

    def retry(self, delivery_id: int, now: datetime) -> Delivery:
        """A dead (or retrying) delivery is due again now, with a fresh give-up time;
        NotFound when unknown, InvalidInput in another state."""
        with self.db.write() as conn:
            row = conn.execute(
                "UPDATE notify_deliveries SET state = 'pending', next_at = ?, created_at = ?,"
                " finished_at = NULL, attempts = 0 WHERE id = ? AND state IN ('dead', 'retrying')"
                " RETURNING *",
                (now.timestamp(), now.timestamp(), delivery_id),
            ).fetchone()
            if row is None:
                found = conn.execute(
                    "SELECT state FROM notify_deliveries WHERE id = ?", (delivery_id,)
                ).fetchone()
                if found is None:
                    raise NotFound(f"no notification with id {delivery_id}")
                raise InvalidInput(
                    f"notification {delivery_id} is {found[0]}: only dead or retrying ones retry"
                )
            return self._load(conn, [row])[0]

    def outcomes(self) -> dict[tuple[str, str], int]:
        """(channel, state) → deliveries (for jobctl_notifications_total)."""
        with self.db.read() as conn:
            return {
                (r[0], r[1]): r[2]
                for r in conn.execute(
                    "SELECT channel, state, count(*) FROM notify_deliveries GROUP BY channel, state"
                )
            }

    def prune(self, before: datetime, limit: int = 1000) -> int:
        """Forget settled deliveries and events older than `before` (a batch at most);
        returns how many rows went."""
        ts = before.timestamp()
        with self.db.write() as conn:
            gone = conn.execute(
                "DELETE FROM notify_deliveries WHERE id IN (SELECT id FROM notify_deliveries"
                " WHERE (state IN ('delivered', 'dead') AND finished_at < ?)"
                " OR (state = 'folded' AND digest_id IS NOT NULL AND created_at < ?) LIMIT ?)",
                (ts, ts, limit),
            ).rowcount
            gone += conn.execute(
                "DELETE FROM notify_events WHERE id IN (SELECT e.id FROM notify_events e"
                " WHERE e.state != 'new' AND e.at < ? AND NOT EXISTS (SELECT 1 FROM"
                " notify_deliveries d WHERE d.event_id = e.id) LIMIT ?)",
                (ts, limit),
            ).rowcount
        return gone

    def list(self, states: Sequence[str] = (), limit: int = 100) -> list[Delivery]:
        """Deliveries, newest first, optionally in these states."""
        for state in states:
            if state not in STATES:
                raise InvalidInput(f"invalid state {state!r}: use {'|'.join(STATES)}")
        where = f" WHERE state IN ({','.join('?' * len(states))})" if states else ""
        with self.db.read() as conn:
            rows = conn.execute(
                f"SELECT * FROM notify_deliveries{where} ORDER BY id DESC LIMIT ?",
                [*states, limit],
            ).fetchall()
            return self._load(conn, rows)
