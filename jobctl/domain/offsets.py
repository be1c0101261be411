"""A zone's UTC offsets day by day: is a day plain (one offset all day), and where does the
offset shift on the others. Pure and remembered: the fire engine asks about the same few days
at every fire."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MAX = datetime(9999, 12, 1, tzinfo=UTC)  # fires are computed up to here
_DAY = timedelta(days=1)
_HOUR = timedelta(hours=1)
_SAMPLE_HOURS = range(0, 24, 3)


@dataclass(frozen=True)
class Shift:
    """A change of UTC offset at instant `at` from `before` to `after`. The clock jumps from
    `wall_before` to `wall_after`: forward over a gap, or back over a repeat."""

    at: datetime
    before: timedelta
    after: timedelta

    @property
    def wall_before(self) -> datetime:
        return (self.at + self.before).replace(tzinfo=None)

    @property
    def wall_after(self) -> datetime:
        return (self.at + self.after).replace(tzinfo=None)

    @property
    def gap(self) -> bool:
        return self.after > self.before

    @property
    def walls(self) -> tuple[datetime, datetime]:
        """[low, high): the naive wall times skipped (gap) or passed twice (repeat)."""
        return min(self.wall_before, self.wall_after), max(self.wall_before, self.wall_after)


@functools.lru_cache(maxsize=4096)
def plain_offset(tz: ZoneInfo, day: date) -> timedelta | None:
    """The day's UTC offset when it is the same all day (sampled every 3 h and at the next
    midnight, both folds), else None. tzdata never shifts twice within 3 hours."""
    samples = [datetime.combine(day, time(hour)) for hour in _SAMPLE_HOURS]
    if day < MAX.date():
        samples.append(datetime.combine(day + _DAY, time()))
    offsets = {w.replace(tzinfo=tz, fold=fold).utcoffset() for w in samples for fold in (0, 1)}
    return offsets.pop() if len(offsets) == 1 else None


@functools.lru_cache(maxsize=256)
def shifts(tz: ZoneInfo, day: date) -> tuple[timedelta, tuple[Shift, ...]]:
    """(the offset before them, the shifts) around the instants whose wall time falls on
    `day`, found by hourly samples and bisection (tzdata never shifts twice in an hour)."""
    low = earliest(tz, day) - _HOUR
    end = datetime.combine(day + _DAY, time()) if day < MAX.date() else MAX.replace(tzinfo=None)
    high = max(end.replace(tzinfo=tz, fold=fold).astimezone(UTC) for fold in (0, 1)) + _HOUR
    first = _offset(low, tz)
    found, previous, offset = [], low, first
    while previous < high:
        at = min(previous + _HOUR, high)
        if _offset(at, tz) != offset:
            jump = _jump(tz, previous, at)
            found.append(Shift(jump, offset, _offset(jump, tz)))
            offset = found[-1].after
        previous = at
    return first, tuple(found)


def earliest(tz: ZoneInfo, day: date) -> datetime:
    """No wall time of `day` or later maps before this instant (its midnight, either fold)."""
    midnight = datetime.combine(day, time())
    return min(midnight.replace(tzinfo=tz, fold=fold).astimezone(UTC) for fold in (0, 1))


def _offset(at: datetime, tz: ZoneInfo) -> timedelta:
    return at.astimezone(tz).utcoffset() or timedelta(0)


def _jump(tz: ZoneInfo, low: datetime, high: datetime) -> datetime:
    """The transition instant in (low, high]: bisect on whole seconds for the offset change."""
    offset = low.astimezone(tz).utcoffset()
    lo, hi = int(low.timestamp()), int(high.timestamp())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, tz).utcoffset() == offset:
            lo = mid
        else:
            hi = mid
    return datetime.fromtimestamp(hi, UTC)
