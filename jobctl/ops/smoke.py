"""`jobctl smoke`: a canary job per queue through the running daemon (round-trip latency),
and the punctuality of every enabled schedule's recent fires. A deploy gate: OK or CRITICAL.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from jobctl.clock import Clock
from jobctl.config.model import DEFAULT_QUEUE, Config
from jobctl.config.resolve import EnqueueOptions, build_spec
from jobctl.domain.cron import parse_cron
from jobctl.domain.durations import format_duration
from jobctl.domain.fires import fires_between
from jobctl.domain.schedule import Outcome, Schedule
from jobctl.errors import JobctlError
from jobctl.ops.report import Level, Probe, Report

if TYPE_CHECKING:
    from jobctl.store.protocol import Store


CANARY_NAME = "smoke-canary"
CANARY_PRIORITY = 1_000_000  # ahead of any backlog: the canary tests the pipeline, not the lag
RECENT = timedelta(hours=1)  # fires looked at by the punctuality check
RECENT_FIRES = 20  # at most this many of each schedule's newest fires
POLL = 0.05
FINAL = ("succeeded", "dead", "cancelled", "gone")
GONE = ("gone", None, None)
PUNCTUAL = (Outcome.ENQUEUED.value, Outcome.SHADOW.value)


@dataclass(frozen=True)
class Canary:
    queue: str
    job_id: int
    enqueued_at: datetime


def canary_command() -> list[str]:
    """A trivial command: `true` from PATH, else the running Python doing nothing."""
    found = shutil.which("true")
    return [found] if found else [sys.executable, "-c", "pass"]


def smoke(
    store: Store,
    config: Config,
    clock: Clock,
    queues: list[str] | None = None,
    timeout: float = 60.0,
    tolerance: float = 60.0,
) -> Report:
    """Send one canary per queue (default: every configured queue and `default`), wait up to
    `timeout` for each to succeed, and check recent schedule fires against `tolerance`.
    Without a live daemon it returns CRITICAL at once. Never raises for a failed check."""
    names = sorted(set(queues or ()) or {q.name for q in config.queues} | {DEFAULT_QUEUE})
    probes = send_canaries(store, config, clock, names, timeout)
    probes.append(punctuality(store, clock.now(), tolerance))
    return Report.of(probes)


def send_canaries(
    store: Store, config: Config, clock: Clock, queues: list[str], timeout: float
) -> list[Probe]:
    now = clock.now()
    live = store.daemons.live(now)
    if not live:
        return [Probe("daemons", Level.CRITICAL, 0, "no live daemon: no canary can run")]
    paused = store.queues.paused()
    probes: dict[str, Probe] = {}
    options = []
    for queue in queues:
        name = f"canary:{queue}"
        if queue in paused:
            probes[queue] = Probe(name, Level.CRITICAL, None, f"queue {queue} is paused")
        elif not any(d.queues is None or queue in d.queues for d in live):
            probes[queue] = Probe(name, Level.CRITICAL, None, f"no live daemon serves {queue}")
        else:
            options.append(
                EnqueueOptions(
                    command=canary_command(),
                    queue=queue,
                    name=CANARY_NAME,
                    priority=CANARY_PRIORITY,
                    max_attempts=1,
                    timeout=max(1.0, timeout),
                )
            )
    try:
        specs = [build_spec(o, config) for o in options]
    except JobctlError as exc:  # e.g. an unknown queue under strict_queues
        return [Probe("canary", Level.CRITICAL, None, str(exc))]
    enqueued = store.jobs.enqueue(specs, now) if specs else []
    canaries = [
        Canary(o.queue or DEFAULT_QUEUE, e.id, now) for o, e in zip(options, enqueued, strict=True)
    ]
    for canary, probe in zip(canaries, wait_canaries(store, clock, canaries, timeout), strict=True):
        probes[canary.queue] = probe
    return [probes[q] for q in queues]


def wait_canaries(
    store: Store, clock: Clock, canaries: list[Canary], timeout: float
) -> list[Probe]:
    """Poll until every canary is terminal or `timeout` passes;
    a canary still pending then is cancelled and CRITICAL."""
    deadline = clock.monotonic() + timeout
    ids = [c.job_id for c in canaries]
    states: dict[int, tuple[str, float | None, float | None]] = {}
    while ids:
        states = store.health.job_states(ids)  # a primary-key read of a few rows: cheap
        if all(states.get(i, GONE)[0] in FINAL for i in ids) or clock.monotonic() >= deadline:
            break
        clock.sleep(POLL)
    probes = []
    for c in canaries:
        state, _started, finished = states.get(c.job_id, GONE)
        probes.append(_canary_probe(store, clock, c, state, finished, timeout))
    return probes


def _canary_probe(
    store: Store,
    clock: Clock,
    c: Canary,
    state: str,
    finished: float | None,
    timeout: float,
) -> Probe:
    name = f"canary:{c.queue}"
    if state == "succeeded" and finished is not None:
        latency = round(max(0.0, finished - c.enqueued_at.timestamp()), 3)
        return Probe(
            name, Level.OK, latency, f"job {c.job_id} round trip {format_duration(latency)}"
        )
    if state in ("dead", "cancelled", "gone"):
        return Probe(name, Level.CRITICAL, None, f"canary job {c.job_id} ended {state}")
    with contextlib.suppress(JobctlError):  # it may have finished meanwhile: the verdict stands
        store.jobs.cancel([c.job_id], clock.now(), "smoke: no result within the timeout")
    return Probe(
        name,
        Level.CRITICAL,
        None,
        f"canary job {c.job_id} still {state} after {format_duration(timeout)} (cancelled)",
    )


def punctuality(store: Store, now: datetime, tolerance: float) -> Probe:
    """Every enabled schedule's recent fires within ±tolerance of nominal, and none due
    more than `tolerance` ago left undispatched."""
    late: list[str] = []
    checked = 0
    worst = 0.0
    for s in store.schedules.list():
        if not s.enabled:
            continue
        checked += 1
        for f in store.schedules.fires(s.name, now - RECENT)[:RECENT_FIRES]:
            if f.outcome not in PUNCTUAL and f.outcome != Outcome.NO_DAEMON.value:
                continue  # overlap, paused, DST skip: decisions, not lateness
            off = abs(f.lateness or 0.0) if f.outcome in PUNCTUAL else float("inf")
            if off > tolerance:
                shown = (
                    "missed (no daemon)" if off == float("inf") else f"{format_duration(off)} off"
                )
                late.append(f"{s.name}@{f.nominal_at.strftime('%H:%M:%S')} {shown}")
            elif off > worst:
                worst = off
        pending = _overdue_fire(s, now, tolerance)
        if pending is not None:
            late.append(f"{s.name}@{pending.strftime('%H:%M:%S')} not dispatched")
    if late:
        return Probe("schedule_accuracy", Level.CRITICAL, len(late), "; ".join(late[:5]))
    message = f"{checked} enabled schedule(s), recent fires within {format_duration(worst)}"
    return Probe(
        "schedule_accuracy", Level.OK, 0, message + f" (tolerance {format_duration(tolerance)})"
    )


def _overdue_fire(s: Schedule, now: datetime, tolerance: float) -> datetime | None:
    """The first nominal fire after the schedule's cursor that is more than `tolerance`
    in the past (the scheduler should have handled it), else None."""
    cursor = s.cursor_at
    if cursor is None:
        return None
    until = now - timedelta(seconds=tolerance)
    if cursor >= until:
        return None
    start = max(cursor, now - RECENT)
    fires = fires_between(
        parse_cron(s.cron), ZoneInfo(s.tz), start, until, dst_gap=s.dst_gap, dst_repeat=s.dst_repeat
    )
    first = next(iter(fires), None)
    return first.at if first is not None else None
