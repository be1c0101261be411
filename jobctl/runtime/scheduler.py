"""The scheduler inside every daemon: due fires become jobs exactly once.

Each schedule's next fire time is kept in memory and recomputed only when the schedule
changed or fired, so an idle daemon with a thousand schedules does almost nothing. A fire is
recorded under the unique key (schedule, nominal time) in the same transaction as its job:
several daemons may race for it and only one wins.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from jobctl.clock import Clock
from jobctl.config.model import Config
from jobctl.config.resolve import build_spec
from jobctl.config.schedules import fire_options
from jobctl.domain.cron import CronExpr, parse_cron
from jobctl.domain.fires import dst_skipped, fires_between, next_fires
from jobctl.domain.job import JobSpec
from jobctl.domain.schedule import (
    MISFIRE_GRACE,
    FireDecision,
    Outcome,
    Overlap,
    Schedule,
    every_node_fire,
    missed_fires,
    plan_missed,
    shadow_sampled,
)
from jobctl.errors import JobctlError
from jobctl.ops.nodes import fire_nodes
from jobctl.runtime.boot import boot_id as current_boot_id
from jobctl.runtime.eventlog import EventLog
from jobctl.store.repos.schedules import LiveJob, ScheduleChanged

if TYPE_CHECKING:
    from jobctl.store.protocol import Store


MAX_FIRES_PER_PASS = 1000  # a long outage of a per-second schedule is recorded in part
REFRESH = 1.0  # seconds between checks for changed schedules
FIRE_TRIES = 3  # decisions of one pass made afresh on a schedule edited meanwhile


@dataclass
class _Entry:
    schedule: Schedule
    expr: CronExpr
    tz: ZoneInfo
    next_at: datetime | None = None
    key: tuple[object, ...] = field(default=())


def schedule_key(s: Schedule) -> tuple[object, ...]:
    return (s.updated_at, s.cursor_at)


class Scheduler:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        log: EventLog,
        config: Callable[[], Config],
        rng: random.Random,
        misfire_grace: timedelta = MISFIRE_GRACE,
        boot_id: str | None = None,
        node: str = "",
    ) -> None:
        self.store, self.clock, self.log, self.config, self.rng = store, clock, log, config, rng
        self.misfire_grace = misfire_grace
        self.boot_id, self.node = boot_id or current_boot_id(), node
        self._replaced = False  # overlap replace asked to cancel live runs since the last take
        self.entries: dict[str, _Entry] = {}
        self._marker: object = None
        self._last_refresh = float("-inf")
        self._started_at: datetime | None = None

    # --- keeping the schedule set current --------------------------------------------------
    def refresh(self, force: bool = False) -> None:
        """Reload schedules when any changed (a cheap count/max query decides)."""
        mono = self.clock.monotonic()
        if not force and mono - self._last_refresh < REFRESH:
            return
        self._last_refresh = mono
        marker = self.store.schedules.changed_marker()
        if marker == self._marker and not force:
            return
        self._marker = marker
        fresh: dict[str, _Entry] = {}
        for schedule in self.store.schedules.list():
            old = self.entries.get(schedule.name)
            if old is not None and old.key == schedule_key(schedule):
                fresh[schedule.name] = old
                continue
            try:
                entry = _Entry(schedule, parse_cron(schedule.cron), ZoneInfo(schedule.tz))
            except (JobctlError, ValueError, KeyError) as exc:
                self.log.emit(
                    self.clock.now(),
                    "schedule.invalid",
                    level="error",
                    schedule=schedule.name,
                    error=str(exc),
                )
                continue
            entry.key = schedule_key(schedule)
            entry.next_at = self._next_after(entry, schedule.cursor_at or self.clock.now())
            fresh[schedule.name] = entry
        self.entries = fresh

    def _next_after(self, entry: _Entry, after: datetime) -> datetime | None:
        """The next fire, or the next wall time skipped by `--dst-gap skip` if that comes
        first (it is recorded in the missed-run ledger when it passes)."""
        s = entry.schedule
        found = next_fires(
            entry.expr, entry.tz, after, 1, dst_gap=s.dst_gap, dst_repeat=s.dst_repeat
        )
        due = found[0].at if found else None
        if s.dst_gap == "skip" and entry.expr.fixed_time:
            until = due or after + timedelta(days=400)
            skipped = dst_skipped(entry.expr, entry.tz, after, until)
            if skipped:
                first = skipped[0].astimezone(UTC)
                due = first if due is None else min(due, first)
        return due

    def take_replaced(self) -> bool:
        """Whether a fire asked to cancel a live run (overlap replace) since the last call: the
        daemon's own write, which SQLite's data_version does not show it."""
        replaced, self._replaced = self._replaced, False
        return replaced

    def next_at(self) -> datetime | None:
        """The earliest upcoming fire of any schedule (the daemon sleeps until then)."""
        times = [e.next_at for e in self.entries.values() if e.next_at is not None]
        return min(times) if times else None

    # --- firing --------------------------------------------------------------------------
    def start(self, now: datetime) -> int:
        """At daemon start: load schedules and fire the @reboot ones for this boot of the
        node. Their nominal time is when the boot was first seen (by any daemon), so each fires
        once per boot whatever restarts or daemons follow; one made later in the boot waits
        for the next. They are decided like any fire (shadow, paused, disabled, misfire).
        Returns jobs enqueued."""
        self._started_at = now
        self.refresh(force=True)
        booted = self.store.schedules.record_boot(self.boot_id, self.node, now)
        enqueued = 0
        for entry in list(self.entries.values()):
            s = entry.schedule
            if entry.expr.kind == "reboot" and (s.created_at is None or s.created_at <= booted):
                enqueued += self._settled(entry, lambda e: self._record_at(e, [booted], now))
        return enqueued

    def tick(self, now: datetime) -> int:
        """Handle every schedule whose next fire is due; returns how many jobs were enqueued."""
        self.refresh()
        enqueued = 0
        for entry in list(self.entries.values()):
            if entry.next_at is not None and entry.next_at <= now:
                enqueued += self._fire(entry, now)
        return enqueued

    def _settled(self, entry: _Entry, fire: Callable[[_Entry], int | None]) -> int:
        """`fire(entry)`, and while it finds the schedule edited since it was read (paused,
        demoted, removed: nothing was recorded), again on the schedule read afresh, a few
        times at most (a fire still due is tried again by the next tick). Jobs enqueued."""
        for _ in range(FIRE_TRIES):
            count = fire(entry)
            if count is not None:
                return count
            self.refresh(force=True)
            fresh = self.entries.get(entry.schedule.name)
            if fresh is None:
                return 0
            entry = fresh
        return 0

    def _fire(self, entry: _Entry, now: datetime) -> int:
        return self._settled(entry, lambda e: self._fire_due(e, now))

    def _fire_due(self, entry: _Entry, now: datetime) -> int | None:
        """Record the entry's due fires and move it on; None when its schedule changed."""
        s = entry.schedule
        cursor = s.cursor_at or now
        fires = deque(
            fires_between(
                entry.expr, entry.tz, cursor, now, dst_gap=s.dst_gap, dst_repeat=s.dst_repeat
            ),
            maxlen=MAX_FIRES_PER_PASS,
        )
        decisions, cancel = self._decide(s, [f.at for f in fires], now)
        if s.dst_gap == "skip" and entry.expr.fixed_time:
            decisions += [
                FireDecision(n, Outcome.DST_SKIP)
                for n in dst_skipped(entry.expr, entry.tz, cursor, now)
            ]
        count = self._record(entry, decisions, now, cancel)
        if count is None:
            return None
        entry.schedule = _with_cursor(s, now)
        entry.next_at = self._next_after(entry, now)
        return count

    def _decide(
        self, s: Schedule, nominal: list[datetime], now: datetime
    ) -> tuple[list[FireDecision], list[int]]:
        """What becomes of each due fire of `s`, for every kind of schedule (cron, @every,
        @reboot): missed while no daemon ran (by the misfire policy), disabled by config,
        paused, shadow (recorded when sampled), skipped for overlap, or enqueued. Returns the
        decisions and the live runs to cancel (overlap replace)."""
        config = self.config()
        missed = missed_fires(nominal, now, self.misfire_grace)
        late, run_missed = set(missed), {at for at, run in plan_missed(missed, s.misfire) if run}
        shadow = s.is_shadow(config.shadow_mode.enabled)
        paused = not s.enabled or s.queue in self.store.queues.paused()
        live = self.store.schedules.live_jobs(s.name)
        nodes: list[str] | None = None  # `--on-every-node`: looked up once per pass
        decisions: list[FireDecision] = []
        cancel: list[int] = []
        for at in nominal:
            if at in late and at not in run_missed:
                decisions.append(FireDecision(at, Outcome.NO_DAEMON))
            elif not config.enabled:
                decisions.append(FireDecision(at, Outcome.DISABLED))
            elif paused:
                outcome = Outcome.AUTO_PAUSED if s.paused_reason else Outcome.PAUSED
                decisions.append(FireDecision(at, outcome))
            elif shadow:
                if shadow_sampled(s.name, at, config.shadow_mode.sampling_percent):
                    decisions.append(FireDecision(at, Outcome.SHADOW))
            elif s.on_every_node:
                if nodes is None:
                    nodes = fire_nodes(self.store, s.queue, s.on_tag, now)
                busy = {job.on_node for job in live}
                decision = every_node_fire(at, self._jittered(s, at), nodes, s.stagger,
                                           s.overlap, busy)  # fmt: skip
                if decision.outcome is Outcome.ENQUEUED:
                    if s.overlap is Overlap.REPLACE:
                        cancel += [job.id for job in live]
                    live = [LiveJob(-1, run.node) for run in decision.nodes]
                decisions.append(decision)
            elif live and s.overlap is Overlap.FORBID:
                decisions.append(FireDecision(at, Outcome.OVERLAP))
            else:
                if live and s.overlap is Overlap.REPLACE:
                    cancel += [job.id for job in live]
                decisions.append(FireDecision(at, Outcome.ENQUEUED, self._jittered(s, at)))
                live = [LiveJob(-1, None)]  # this fire's job is live from now on
        return decisions, cancel

    def _jittered(self, s: Schedule, at: datetime) -> datetime:
        """The fire's start: its time plus `--jitter` drawn at random."""
        return at + timedelta(seconds=self.rng.uniform(0, s.jitter) if s.jitter else 0.0)

    def _record_at(self, entry: _Entry, nominal: list[datetime], now: datetime) -> int | None:
        """Decide and record the entry's fires at `nominal`; None when its schedule changed."""
        decisions, cancel = self._decide(entry.schedule, nominal, now)
        return self._record(entry, decisions, now, cancel)

    def _record(
        self,
        entry: _Entry,
        decisions: list[FireDecision],
        now: datetime,
        cancel: list[int] | None = None,
    ) -> int | None:
        """Record decided fires (their jobs enqueued); None, nothing recorded, when the
        schedule was edited since it was read. Jobs enqueued."""
        s = entry.schedule
        planned: list[tuple[FireDecision, list[JobSpec]]] = []
        for decision in decisions:
            specs: list[JobSpec] = []
            if decision.outcome is Outcome.ENQUEUED:
                try:
                    specs = self._specs(s, decision)
                except JobctlError as exc:
                    self.log.emit(
                        now, "schedule.fire_failed", level="error", schedule=s.name, error=str(exc)
                    )
                    continue
            planned.append((decision, specs))
        try:
            recorded = self.store.schedules.record_fires(
                s.name, planned, now, now, cancel or (), seen=s
            )
        except ScheduleChanged:
            return None
        count = sum(len(d.nodes) or 1 for d, job_id in recorded if job_id is not None)
        self._replaced = self._replaced or bool(cancel and count)
        request_ids = {d.nominal_at: specs[0].request_id for d, specs in planned if specs}
        for decision, job_id in recorded:
            self.log.emit(
                now,
                "schedule.fire",
                schedule=s.name,
                outcome=decision.outcome.value,
                nominal_at=decision.nominal_at,
                job_id=job_id,
                lateness=round((now - decision.nominal_at).total_seconds(), 3),
                request_id=request_ids.get(decision.nominal_at) if job_id else None,
                nodes=",".join(run.node for run in decision.nodes) or None,
                skipped_nodes=",".join(decision.skipped_nodes) or None,
            )
        return count

    def _specs(self, s: Schedule, decision: FireDecision) -> list[JobSpec]:
        """The fire's job, or its jobs: one per node of an `--on-every-node` fire."""
        config = self.config()
        if not decision.nodes:
            return [build_spec(fire_options(s, decision.run_at, decision.nominal_at), config)]
        return [
            build_spec(fire_options(s, run.run_at, decision.nominal_at, node=run.node), config)
            for run in decision.nodes
        ]


def _with_cursor(s: Schedule, cursor: datetime) -> Schedule:
    from dataclasses import replace

    return replace(s, cursor_at=cursor)
