"""Notification routing as pure decisions (SPEC "Notifications"): which routes want an
event (match, `after: N`, `while_retrying`, `on_recovery`), the `max_per` window that folds
the rest into a digest, and the backoff of a channel's delivery attempts.

Events are written by the store in the same transaction as the change that caused them;
the daemon routes them with these functions and its config, then delivers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from jobctl.domain.durations import parse_seconds
from jobctl.errors import InvalidInput

EVENTS = (
    "failed",  # an attempt failed; a retry remains
    "dead",  # the job's final failure (a DLQ entry exists)
    "recovered",  # first success after failures of the same schedule or job name
    "missed",  # a fire that did not run (no daemon, overlap, DST skip)
    "too_long",  # still running past max_runtime
    "too_short",  # succeeded faster than min_runtime
    "deadline",  # a schedule's run not finished by its wall-clock deadline
    "paused",  # auto-paused after pause_after consecutive failures
    "node_down",  # a daemon stopped heartbeating
    "dlq_growth",  # dead letters added over the health threshold
    "output",  # a run of a schedule with a MAILTO printed output (cron's rule)
)
MAILTO_EVENTS = frozenset({"dead", "output"})  # what cron's MAILTO mails (output or failure)
MAILTO_ROUTE = "mailto"  # the implicit route of imported MAILTOs; channel `mailto:ADDRESS`
FAILURES = frozenset({"failed", "dead"})  # the events `after: N` counts
# the ledger outcomes notified as `missed`
MISSED_REASONS = frozenset({"no_daemon", "no_node", "overlap", "dst_skip"})
MATCH_KEYS = ("event", "queue", "schedule", "job_type", "owner", "severity", "tenant")
_MAX_PER = re.compile(r"^\s*(\d+)\s*/\s*(\S+)\s*$")


@dataclass(frozen=True)
class Event:
    """One thing worth telling someone, as the store recorded it (`body` holds the facts:
    job, attempt, exit code, output tail, reason…, all JSON values)."""

    id: int
    kind: str
    at: datetime
    body: Mapping[str, Any] = field(default_factory=dict)

    def get(self, key: str) -> Any:
        return self.body.get(key)

    @property
    def subject(self) -> str:
        """What the event is about, stable across runs: the PagerDuty dedup key, the streak
        that `after: N` counts and `recovered` ends."""
        return str(self.body.get("subject") or f"job:{self.body.get('job_id')}")


@dataclass(frozen=True)
class MaxPer:
    """At most `count` deliveries per `seconds` window (`2/30m`)."""

    count: int
    seconds: float
    text: str

    def __str__(self) -> str:
        return self.text


def parse_max_per(value: Any) -> MaxPer:
    """`N/DURATION` (`2/30m`) → MaxPer; InvalidInput naming the value."""
    m = _MAX_PER.match(str(value))
    try:
        if m is None or int(m.group(1)) < 1:
            raise InvalidInput("no count")
        seconds = parse_seconds(m.group(2), "max_per")
    except InvalidInput:
        raise InvalidInput(f"invalid max_per {value!r}: use COUNT/DURATION like 2/30m") from None
    if seconds <= 0:
        raise InvalidInput(f"invalid max_per {value!r}: the window must be longer than 0s")
    return MaxPer(int(m.group(1)), seconds, str(value).strip())


@dataclass(frozen=True)
class Route:
    """A config route. `match` maps a MATCH_KEYS key to the values accepted (any of them);
    an absent key accepts anything."""

    name: str
    to: tuple[str, ...]
    match: Mapping[str, frozenset[str]] = field(default_factory=dict)
    after: int | None = None  # notify once when the failure streak reaches N
    while_retrying: bool = False  # also `failed` events (a retry remains)
    on_recovery: bool = False  # also `recovered`
    max_per: MaxPer | None = None


@dataclass(frozen=True)
class Ownership:
    """Owner and severity of what an event is about: the schedule's (recorded with the
    event), else its job type's, else its queue's (config)."""

    owner: str | None = None
    severity: str | None = None


def resolve_ownership(
    event: Event,
    job_types: Mapping[str, Ownership],
    queues: Mapping[str, Ownership],
) -> Ownership:
    """The first owner and severity set, field by field: schedule, job type, queue."""
    chain = [
        Ownership(event.get("owner"), event.get("severity")),
        job_types.get(event.get("job_type") or "", Ownership()),
        queues.get(event.get("queue") or "", Ownership()),
    ]
    owner = next((o.owner for o in chain if o.owner), None)
    severity = next((o.severity for o in chain if o.severity), None)
    return Ownership(owner, severity)


def matches(route: Route, event: Event, ownership: Ownership) -> bool:
    """Whether the route's `match` accepts the event (a recovery passes the event filter
    of an `on_recovery` route: it ends what the route reported)."""
    values = {
        "event": event.kind,
        "queue": event.get("queue"),
        "schedule": event.get("schedule"),
        "job_type": event.get("job_type"),
        "owner": ownership.owner,
        "severity": ownership.severity,
        "tenant": event.get("tenant"),
    }
    for key, accepted in route.match.items():
        if key == "event" and event.kind == "recovered" and route.on_recovery:
            continue
        if values.get(key) not in accepted:
            return False
    return True


def wants(route: Route, event: Event, ownership: Ownership) -> bool:
    """Whether the route delivers this event: its match, then the SPEC's rules: `failed`
    only `while_retrying`; `recovered` only `on_recovery` (and, with `after: N`, only when
    the ended streak had reached N); with `after: N` a failure only when its streak is
    exactly N (once per streak)."""
    if not matches(route, event, ownership):
        return False
    streak = int(event.get("streak") or 1)
    if event.kind == "failed" and not route.while_retrying:
        return False
    if event.kind == "recovered":
        return route.on_recovery and (route.after is None or streak >= route.after)
    if event.kind in FAILURES and route.after is not None:
        return streak == route.after
    return True


@dataclass(frozen=True)
class Window:
    """A route's current `max_per` window: when it started and how many it delivered."""

    route: str
    started_at: datetime | None = None
    sent: int = 0

    def ends_at(self, limit: MaxPer) -> datetime | None:
        if self.started_at is None:
            return None
        return self.started_at + timedelta(seconds=limit.seconds)


def admit(window: Window, limit: MaxPer | None, now: datetime) -> tuple[Window, bool]:
    """Count one delivery against the route's window: (the window after, admitted?). A
    window starts with the first delivery after the previous one ended; what exceeds
    `limit.count` within it is folded (not admitted)."""
    if limit is None:
        return window, True
    end = window.ends_at(limit)
    if end is None or now >= end:
        return Window(window.route, now, 1), True
    if window.sent < limit.count:
        return replace(window, sent=window.sent + 1), True
    return window, False


def digest_due(window: Window, limit: MaxPer | None, now: datetime) -> bool:
    """Whether the window has ended, so what it folded goes out as one digest."""
    if limit is None:
        return True
    end = window.ends_at(limit)
    return end is None or now >= end


@dataclass(frozen=True)
class Planned:
    """One delivery the routing pass creates: the event through a route to a channel,
    sent now or `folded` into the route's next digest."""

    event_id: int
    route: str
    channel: str
    folded: bool = False


def plan(
    events: Sequence[Event],
    routes: Sequence[Route],
    windows: Mapping[str, Window],
    now: datetime,
    job_types: Mapping[str, Ownership] | None = None,
    queues: Mapping[str, Ownership] | None = None,
) -> tuple[list[Planned], dict[str, Window]]:
    """Route `events` (oldest first): the deliveries to create and the windows changed."""
    out: list[Planned] = []
    changed: dict[str, Window] = {}
    for event in events:
        owned = resolve_ownership(event, job_types or {}, queues or {})
        for route in routes:
            if not wants(route, event, owned):
                continue
            current = changed.get(route.name) or windows.get(route.name) or Window(route.name)
            after, admitted = admit(current, route.max_per, now)
            if after != current:
                changed[route.name] = after
            out += [Planned(event.id, route.name, ch, folded=not admitted) for ch in route.to]
        if event.get("mailto") and event.kind in MAILTO_EVENTS:
            for address in str(event.get("mailto")).split(","):
                out.append(Planned(event.id, MAILTO_ROUTE, f"{MAILTO_ROUTE}:{address}"))
    return out, changed


@dataclass(frozen=True)
class Backoff:
    """How a channel retries: exponential from `base`, capped at `cap`, no longer than
    `give_up_after` from the first attempt (then the delivery is dead)."""

    base: float = 2.0
    cap: float = 300.0
    give_up_after: float = 3600.0

    def next_at(self, attempts: int, first_at: datetime, now: datetime) -> datetime | None:
        """When to try again after `attempts` failed attempts, or None: give up."""
        delay = min(self.cap, self.base * 2 ** max(0, attempts - 1))
        at = now + timedelta(seconds=delay)
        if (at - first_at).total_seconds() > self.give_up_after:
            return None
        return at


def last_deadline(hhmm: str, zone: Any, now: datetime) -> datetime:
    """The latest instant at or before `now` when the wall clock of `zone` read `hhmm`
    (a deadline in a DST gap falls just after the jump; in a repeat, at its first pass)."""
    from datetime import UTC, time

    hour, minute = (int(p) for p in hhmm.split(":"))
    local = now.astimezone(zone)
    for days in (0, 1, 2):
        day = (local - timedelta(days=days)).date()
        instant = datetime.combine(day, time(hour, minute), zone).astimezone(UTC)  # fold=0
        if instant <= now:
            return instant
    raise ValueError(f"no {hhmm} before {now}")  # unreachable: two days always hold one
