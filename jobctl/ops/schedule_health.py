"""The dead man's switch: is a schedule's last success older than its interval plus a grace?

The expected interval comes from the cron engine the daemon fires with
(`jobctl.domain.fires`): the gap between the two latest nominal fires at or before `now`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from jobctl.domain.cron import parse_cron
from jobctl.domain.fires import fires_between
from jobctl.domain.schedule import Schedule

if TYPE_CHECKING:
    from jobctl.store.protocol import Store


# Look-back windows tried in turn: the first holding two fires gives the interval, so a
# per-second schedule computes ~100 fires and a yearly one a few.
_WINDOWS = tuple(
    timedelta(seconds=s) for s in (100, 7200, 2 * 86400, 64 * 86400, 800 * 86400, 1830 * 86400)
)


@dataclass(frozen=True)
class ScheduleHealth:
    name: str
    interval: float  # seconds between the two latest nominal fires
    last_fire: datetime  # the latest nominal fire at or before now
    last_success: datetime | None
    age: float  # seconds since the last success (or since the schedule was set up)
    overdue: bool


def last_fire_and_gap(s: Schedule, now: datetime) -> tuple[datetime, float] | None:
    """(latest nominal fire <= now, seconds since the one before), or None when the
    schedule has not fired twice in five years (or is `@reboot`)."""
    expr = parse_cron(s.cron)
    if expr.kind == "reboot":
        return None
    zone = ZoneInfo(s.tz)
    for window in _WINDOWS:
        last_two: deque[datetime] = deque(maxlen=2)
        for fire in fires_between(
            expr, zone, now - window, now, dst_gap=s.dst_gap, dst_repeat=s.dst_repeat
        ):
            last_two.append(fire.at)
        if len(last_two) == 2:
            return last_two[1], (last_two[1] - last_two[0]).total_seconds()
    return None


def schedule_health(
    store: Store, s: Schedule, now: datetime, grace: float, shadow_mode: bool = False
) -> ScheduleHealth | None:
    """The switch for one active schedule; None when nothing can be expected of it yet
    (disabled, shadow, also by config `shadow_mode`, `@reboot`, too rare)."""
    if not s.enabled or s.is_shadow(shadow_mode):
        return None
    expected = last_fire_and_gap(s, now)
    if expected is None:
        return None
    last_fire, interval = expected
    last_success = store.health.last_success(s.name)
    marks = [m for m in (last_success, s.created_at, s.updated_at) if m is not None]
    base = max(marks) if marks else now
    age = max(0.0, (now - base).total_seconds())
    return ScheduleHealth(s.name, interval, last_fire, last_success, age, age > interval + grace)


def overdue_schedules(
    store: Store, now: datetime, grace: float, shadow_mode: bool = False
) -> list[ScheduleHealth]:
    """Active schedules whose last success is older than their interval plus `grace`."""
    out = []
    for s in store.schedules.list():
        health = schedule_health(store, s, now, grace, shadow_mode)
        if health is not None and health.overdue:
            out.append(health)
    return sorted(out, key=lambda h: h.age, reverse=True)
