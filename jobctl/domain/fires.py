"""When a schedule fires: cronie's DST rules as a pure function of (expression, zone, window).

Candidates are walked as NAIVE local wall-clock times (never by iterating croniter on aware
datetimes, which fires `30 2 * * *` twice on a fall-back day), and each is mapped to instants
with zoneinfo: fold=0 and fold=1 give the same offset (plain), a smaller one then a larger one
(gap: the wall time does not exist) or a larger one then a smaller one (repeat: it exists
twice). Then, per SPEC:

- fixed-time job in a gap: once at the jump (`dst_gap="run"`), however many of its times the
  gap swallowed; not at all with `dst_gap="skip"` (see `dst_skipped` for the ledger);
- fixed-time job in a repeat: once at the first occurrence (`dst_repeat="once"`), or at both;
- interval job: every wall time that exists, so none in a gap and both passes of a repeat.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from jobctl.domain import percentile
from jobctl.domain.cron import CronExpr, CronMatch
from jobctl.errors import InvalidInput

DST_GAP_MODES = ("run", "skip")
DST_REPEAT_MODES = ("once", "both")
HORIZON = timedelta(days=5 * 365 + 1)  # next_fires/lint give up after 5 years without a fire
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX = datetime(9999, 12, 1, tzinfo=UTC)
_DAY = timedelta(days=1)
_SAMPLE_HOURS = range(0, 24, 3)
INTERVAL_SAMPLE = 8  # expected_interval: the smallest gap among this many next fires
RUN_TIME_MIN_RUNS = 3  # run_time_lint: fewer finished runs say nothing about p95
_LINT_CONSEQUENCE = {
    "gap": "(clocks jump forward): it runs once right after the jump (skipped with --dst-gap skip)",
    "repeat": "(clocks fall back): it runs once, at the first pass (twice with --dst-repeat both)",
}


@dataclass(frozen=True)
class Fire:
    """One fire. `at`: aware UTC instant. `nominal`: the same instant as local time in the
    schedule's zone (fold=1 for the second pass of a repeated hour); for a gap fire, whose wall
    time does not exist, it is the instant right after the jump and `dst_note` names the
    skipped wall time(s). `dst_note`: None, or a short note for `schedule next`."""

    at: datetime
    nominal: datetime
    dst_note: str | None = None


def fires_between(
    expr: CronExpr,
    tz: ZoneInfo,
    start: datetime,
    end: datetime,
    *,
    dst_gap: str = "run",
    dst_repeat: str = "once",
) -> Iterator[Fire]:
    """Every fire with `start < at <= end`, in increasing `at`, no two at the same instant.

    `start`/`end` are aware (any zone). `@every D` fires where epoch seconds % D == 0, in any
    zone; `@reboot` never fires here (the daemon runs it at start)."""
    _check_window(start, end)
    if dst_gap not in DST_GAP_MODES:
        raise InvalidInput(f"invalid dst_gap '{dst_gap}': use run or skip")
    if dst_repeat not in DST_REPEAT_MODES:
        raise InvalidInput(f"invalid dst_repeat '{dst_repeat}': use once or both")
    if expr.kind == "every" and expr.every:
        return _every_fires(int(expr.every), tz, start, end)
    if expr.kind != "cron" or expr.match is None:
        return iter(())
    rules = _Rules(expr.fixed_time, dst_gap, dst_repeat, expr.has_seconds)
    first_day = start.astimezone(tz).date() - _DAY
    last_day = min(end.astimezone(tz).date() + _DAY, _MAX.date())
    fires = _ordered(expr.match, tz, first_day, last_day, rules, start.astimezone(UTC))
    return _window(fires, start, end)


def next_fires(
    expr: CronExpr,
    tz: ZoneInfo,
    after: datetime,
    n: int,
    *,
    dst_gap: str = "run",
    dst_repeat: str = "once",
) -> list[Fire]:
    """The next `n` fires strictly after `after`; fewer when 5 years pass without one."""
    found: list[Fire] = []
    cursor = after
    while len(found) < n and cursor < _MAX:
        until = cursor + HORIZON if cursor < _MAX - HORIZON else _MAX
        fires = fires_between(expr, tz, cursor, until, dst_gap=dst_gap, dst_repeat=dst_repeat)
        batch = list(itertools.islice(fires, n - len(found)))
        if not batch:
            break
        found += batch
        cursor = batch[-1].at
    return found


def dst_skipped(expr: CronExpr, tz: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """Wall times of a fixed-time `expr` swallowed by a DST gap whose jump is in (start, end].

    For the missed-run ledger under `dst_gap="skip"`. Each is aware local time with fold=0:
    it prints as the wall time with the pre-jump offset (`02:30:00+01:00`). Interval, @every
    and @reboot expressions never skip."""
    _check_window(start, end)
    if expr.kind != "cron" or expr.match is None or not expr.fixed_time:
        return []
    skipped = []
    for day in _days(start.astimezone(tz).date() - _DAY, end.astimezone(tz).date() + _DAY):
        for kind, wall, first, second in _dst_walls(expr.match, tz, day):
            if kind == "gap" and start < _jump(tz, second, first) <= end:
                skipped.append(wall.replace(tzinfo=tz))
    return skipped


def lint(expr: CronExpr, tz: ZoneInfo, now: datetime) -> list[str]:
    """Warnings that need no history: never fires within 5 years; a fixed time falling into
    a DST gap or repeat of `tz` within 2 years (the first date of each is named)."""
    if expr.kind != "cron" or expr.match is None:
        return []
    if next(fires_between(expr, tz, now, now + HORIZON), None) is None:
        return [f"'{expr.text}' never fires: no date matches it in the next 5 years"]
    if not expr.fixed_time:
        return []
    zone = getattr(tz, "key", None) or str(tz)
    first, last = now.astimezone(tz).date(), (now + timedelta(days=731)).astimezone(tz).date()
    found: dict[str, str] = {}
    for day in _days(first, last):
        hits: dict[str, list[datetime]] = {}
        for kind, wall, *_ in _dst_walls(expr.match, tz, day):
            hits.setdefault(kind, []).append(wall)
        for kind, walls in hits.items():
            where = f"'{expr.text}' at {_clock(walls)} falls in the DST {kind} of {zone} on {day}"
            found.setdefault(kind, f"{where} {_LINT_CONSEQUENCE[kind]}")
        if len(found) == 2:
            break
    return [found[kind] for kind in ("gap", "repeat") if kind in found]


def expected_interval(
    expr: CronExpr,
    tz: ZoneInfo,
    now: datetime,
    *,
    dst_gap: str = "run",
    dst_repeat: str = "once",
    sample: int = INTERVAL_SAMPLE,
) -> float | None:
    """Seconds a run may take before the next fire is due: the smallest gap between the next
    `sample` fires after `now`. None with fewer than two fires in 5 years (`@reboot`)."""
    if expr.kind == "every" and expr.every:
        return float(expr.every)
    fires = next_fires(expr, tz, now, sample, dst_gap=dst_gap, dst_repeat=dst_repeat)
    gaps = [(b.at - a.at).total_seconds() for a, b in itertools.pairwise(fires)]
    return min(gaps) if gaps else None


def run_time_lint(text: str, durations: list[float], interval: float | None) -> str | None:
    """The warning when the p95 of the latest run `durations` exceeds `interval` (so runs
    pile up, or overlap policy drops/cancels fires); None below RUN_TIME_MIN_RUNS runs."""
    if interval is None or len(durations) < RUN_TIME_MIN_RUNS:
        return None
    p95 = percentile.p95(durations)
    if p95 is None or p95 <= interval:
        return None
    return (
        f"'{text}': p95 run time {_seconds(p95)} of the last {len(durations)} runs exceeds its"
        f" interval {_seconds(interval)}: runs overlap (see --overlap)"
    )


def _seconds(value: float) -> str:
    return f"{value:.3g}s" if value < 100 else f"{value:.0f}s"


@dataclass(frozen=True)
class _Rules:
    fixed_time: bool
    dst_gap: str
    dst_repeat: str
    seconds: bool


def _check_window(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("fires need aware datetimes for start and end")


def _window(fires: Iterable[Fire], start: datetime, end: datetime) -> Iterator[Fire]:
    """Keep `start < at <= end` from a non-decreasing stream, dropping repeated instants."""
    last = start
    for fire in fires:
        if fire.at > end:
            return
        if fire.at > last:
            last = fire.at
            yield fire


def _every_fires(period: int, tz: ZoneInfo, start: datetime, end: datetime) -> Iterator[Fire]:
    step = timedelta(seconds=period)
    at = _EPOCH + step * ((start - _EPOCH) // step + 1)
    while at <= end:
        yield Fire(at, at.astimezone(tz))
        at += step


def _ordered(
    match: CronMatch, tz: ZoneInfo, first: date, last: date, rules: _Rules, start: datetime
) -> Iterator[Fire]:
    """All fires of the days `first`..`last`, non-decreasing in `at`.

    A day's fires are sorted; a shifted day's may reach past the next midnight (a repeat or
    gap across it), so they wait in a heap until no later day can fire earlier."""
    pending: list[tuple[datetime, int, int, Fire]] = []
    order = itertools.count()
    for day in _days(first, last):
        if not match.day_matches(day):
            continue
        offset = _plain_offset(tz, day)
        if offset is not None:
            floor = (start + offset).replace(tzinfo=None)  # the window's start, as wall time
            fires = _plain_fires(match, tz, day, offset, floor)
            plain = ((f.at, 1, next(order), f) for f in fires)
            for item in heapq.merge(sorted(pending), plain):
                yield item[3]
            pending = []
            continue
        for fire in _shifted_fires(match, tz, day, rules):
            # At one instant a gap fire (with its note) sorts before a plain fire.
            priority = 0 if fire.dst_note and fire.dst_note.startswith("skipped") else 1
            heapq.heappush(pending, (fire.at, priority, next(order), fire))
        bound = _earliest(tz, day + _DAY) if day < _MAX.date() else _MAX
        while pending and pending[0][0] < bound:
            yield heapq.heappop(pending)[3]
    while pending:
        yield heapq.heappop(pending)[3]


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += _DAY


def _walls(match: CronMatch, day: date, floor: datetime | None = None) -> Iterator[datetime]:
    """The day's matching wall-clock times, naive and increasing (the day itself matches),
    from `floor` on when given: a per-second schedule must not walk its whole day."""
    low = (-1, -1, -1)
    if floor is not None and floor.date() >= day:
        if floor.date() > day:
            return
        low = (floor.hour, floor.minute, floor.second)
    for hour in match.hours:
        if hour < low[0]:
            continue
        for minute in match.minutes:
            if (hour, minute) < low[:2]:
                continue
            for second in match.seconds:
                if (hour, minute, second) >= low:
                    yield datetime(day.year, day.month, day.day, hour, minute, second)


def _plain_offset(tz: ZoneInfo, day: date) -> timedelta | None:
    """The day's UTC offset when it is the same all day (sampled every 3 h and at the next
    midnight, both folds), else None. tzdata never shifts twice within 3 hours."""
    samples = [datetime.combine(day, time(hour)) for hour in _SAMPLE_HOURS]
    if day < _MAX.date():
        samples.append(datetime.combine(day + _DAY, time()))
    offsets = {w.replace(tzinfo=tz, fold=fold).utcoffset() for w in samples for fold in (0, 1)}
    return offsets.pop() if len(offsets) == 1 else None


def _plain_fires(
    match: CronMatch, tz: ZoneInfo, day: date, offset: timedelta, floor: datetime
) -> Iterator[Fire]:
    for wall in _walls(match, day, floor):
        at = (wall - offset).replace(tzinfo=UTC)
        yield Fire(at, at.astimezone(tz))


def _shifted_fires(match: CronMatch, tz: ZoneInfo, day: date, rules: _Rules) -> Iterator[Fire]:
    """Fires of a day with a DST transition, by SPEC's fixed-time / interval rules."""
    gaps: dict[datetime, list[datetime]] = {}
    for wall in _walls(match, day):
        kind, first, second = _resolve(wall, tz)
        if kind == "plain":
            yield Fire(first, first.astimezone(tz))
        elif kind == "repeat":
            if rules.fixed_time and rules.dst_repeat == "once":
                yield Fire(first, first.astimezone(tz), "repeated hour: runs once, at the first")
            else:
                yield Fire(first, first.astimezone(tz), "repeated hour: first of two")
                yield Fire(second, second.astimezone(tz), "repeated hour: second of two")
        elif rules.fixed_time and rules.dst_gap == "run":
            gaps.setdefault(_jump(tz, second, first), []).append(wall)
    for jump, walls in gaps.items():
        note = f"skipped hour: runs right after the jump (for {_clock(walls, rules.seconds)})"
        yield Fire(jump, jump.astimezone(tz), note)


def _dst_walls(
    match: CronMatch, tz: ZoneInfo, day: date
) -> Iterator[tuple[str, datetime, datetime, datetime]]:
    """(kind, naive wall, fold=0 instant, fold=1 instant) of the day's matches that fall in a
    gap or a repeat; nothing on a day without a transition."""
    if not match.day_matches(day) or _plain_offset(tz, day) is not None:
        return
    for wall in _walls(match, day):
        kind, first, second = _resolve(wall, tz)
        if kind != "plain":
            yield kind, wall, first, second


def _resolve(wall: datetime, tz: ZoneInfo) -> tuple[str, datetime, datetime]:
    """("plain" | "gap" | "repeat", instant at fold=0, instant at fold=1), instants in UTC.

    In a repeat fold=0 is the first pass; in a gap fold=1 lies before the jump, fold=0 after."""
    before = wall.replace(tzinfo=tz).utcoffset() or timedelta(0)
    after = wall.replace(tzinfo=tz, fold=1).utcoffset() or timedelta(0)
    first, second = (wall - before).replace(tzinfo=UTC), (wall - after).replace(tzinfo=UTC)
    if before == after:
        return "plain", first, second
    return ("gap" if before < after else "repeat"), first, second


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


def _earliest(tz: ZoneInfo, day: date) -> datetime:
    """No wall time of `day` or later maps before this instant (its midnight, either fold)."""
    midnight = datetime.combine(day, time())
    return min(midnight.replace(tzinfo=tz, fold=fold).astimezone(UTC) for fold in (0, 1))


def _clock(walls: list[datetime], seconds: bool = False) -> str:
    """`02:30`, `02:00, 02:30`, or `02:00 … 02:59 (60 times)` for a long list."""
    fmt = "%H:%M:%S" if seconds else "%H:%M"
    if len(walls) <= 3:
        return ", ".join(w.strftime(fmt) for w in walls)
    return f"{walls[0].strftime(fmt)} … {walls[-1].strftime(fmt)} ({len(walls)} times)"
