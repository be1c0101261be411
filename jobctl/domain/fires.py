"""When a schedule fires: cronie's DST rules as a pure function of (expression, zone, window).

Candidates are walked as NAIVE local wall-clock times (never by iterating croniter on aware
datetimes, which fires `30 2 * * *` twice on a fall-back day). A day with one UTC offset maps
each wall time with it; a day with a transition is split at each shift (`offsets.Shift`) into
runs of one offset: the walls the clock jumps over (gap) do not exist, those it passes twice
(repeat) exist with both offsets. Only the walls a caller takes are computed, from the
window's start on, so a DST day costs what any other day does. Then, per SPEC:

- fixed-time job in a gap: once at the jump (`dst_gap="run"`), however many of its times the
  gap swallowed; not at all with `dst_gap="skip"` (see `dst_skipped` for the ledger);
- fixed-time job in a repeat: once at the first occurrence (`dst_repeat="once"`), or at both;
- interval job: every wall time that exists, so none in a gap and both passes of a repeat.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from jobctl.domain import percentile
from jobctl.domain.cron import CronExpr, CronMatch
from jobctl.domain.offsets import MAX, Shift, earliest, plain_offset, shifts
from jobctl.errors import InvalidInput

DST_GAP_MODES = ("run", "skip")
DST_REPEAT_MODES = ("once", "both")
HORIZON = timedelta(days=5 * 365 + 1)  # next_fires searches in windows this long
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY = timedelta(days=1)
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
    last_day = min(end.astimezone(tz).date() + _DAY, MAX.date())
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
    """The next `n` fires strictly after `after`, however far away (`0 0 29 2 *` from 2096
    fires in 2104); none for an expression that never fires (`never_fires`) or `@reboot`."""
    if never_fires(expr) or expr.kind == "reboot":
        return []
    found: list[Fire] = []
    cursor = after
    while len(found) < n and cursor < MAX:
        until = cursor + HORIZON if cursor < MAX - HORIZON else MAX
        fires = fires_between(expr, tz, cursor, until, dst_gap=dst_gap, dst_repeat=dst_repeat)
        batch = list(itertools.islice(fires, n - len(found)))
        found += batch
        cursor = batch[-1].at if batch else until
    return found


def never_fires(expr: CronExpr) -> bool:
    """Whether a cron expression matches no date at all (`0 0 30 2 *`), from its fields."""
    return expr.kind == "cron" and expr.match is not None and not expr.match.matches_some_date()


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
        for shift, wall in _dst_walls(expr.match, tz, day):
            if shift.gap and start < shift.at <= end:
                skipped.append(wall.replace(tzinfo=tz))
    return skipped


def lint(expr: CronExpr, tz: ZoneInfo, now: datetime) -> list[str]:
    """Warnings that need no history: never fires (exactly: no date matches); a fixed time
    falling into a DST gap or repeat of `tz` within 2 years (the first date of each is named)."""
    if expr.kind != "cron" or expr.match is None:
        return []
    if never_fires(expr):
        dom, month = expr.fields[2], expr.fields[3]
        return [f"'{expr.text}' never fires: day-of-month {dom} does not exist in month {month}"]
    if not expr.fixed_time:
        return []
    zone = getattr(tz, "key", None) or str(tz)
    first, last = now.astimezone(tz).date(), (now + timedelta(days=731)).astimezone(tz).date()
    found: dict[str, str] = {}
    for day in _days(first, last):
        hits: dict[str, list[datetime]] = {}
        for shift, wall in _dst_walls(expr.match, tz, day):
            hits.setdefault("gap" if shift.gap else "repeat", []).append(wall)
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
    """All fires of the days `first`..`last` from `start` on, non-decreasing in `at`, lazily.

    Each day's fires come in order of `at`, but a shifted day's may reach past the next
    midnight (a repeat or gap across it), so the days are merged: a fire is let out once no
    later day can fire earlier. Only the fires taken are computed, on DST days as on others."""
    heap: list[tuple[datetime, int, int, Fire, Iterator[Fire]]] = []
    order = itertools.count()

    def push(fires: Iterator[Fire]) -> None:
        fire = next(fires, None)
        if fire is not None:
            # At one instant a gap fire (with its note) sorts before a plain fire.
            priority = 0 if fire.dst_note and fire.dst_note.startswith("skipped") else 1
            heapq.heappush(heap, (fire.at, priority, next(order), fire, fires))

    for day in _days(first, last):
        if match.day_matches(day):
            push(_day_fires(match, tz, day, rules, start))
        bound = earliest(tz, day + _DAY) if heap and day < MAX.date() else MAX
        while heap and heap[0][0] < bound:
            *_, fire, fires = heapq.heappop(heap)
            yield fire
            push(fires)
    while heap:
        *_, fire, fires = heapq.heappop(heap)
        yield fire
        push(fires)


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += _DAY


def _walls(
    match: CronMatch, day: date, floor: datetime | None = None, until: datetime | None = None
) -> Iterator[datetime]:
    """The day's matching wall-clock times, naive and increasing (the day itself matches),
    from `floor` on and before `until` when given: a per-second schedule must not walk its
    whole day."""
    low = (-1, -1, -1)
    if floor is not None and floor.date() >= day:
        if floor.date() > day:
            return
        low = (floor.hour, floor.minute, floor.second)
    if until is not None and until.date() < day:
        return
    for hour in match.hours:
        if hour < low[0]:
            continue
        for minute in match.minutes:
            if (hour, minute) < low[:2]:
                continue
            for second in match.seconds:
                if (hour, minute, second) >= low:
                    wall = datetime(day.year, day.month, day.day, hour, minute, second)
                    if until is not None and wall >= until:
                        return
                    yield wall


@dataclass(frozen=True)
class _Run:
    """Walls in [low, high) (None: unbounded) read with one UTC `offset`; those inside a
    `notes` range [low, high) carry its note (a pass of a repeated hour)."""

    low: datetime | None
    high: datetime | None
    offset: timedelta
    notes: tuple[tuple[datetime, datetime, str], ...] = ()


def _day_fires(
    match: CronMatch, tz: ZoneInfo, day: date, rules: _Rules, start: datetime
) -> Iterator[Fire]:
    """A matching day's fires in order of `at`, from about `start` on (`_window` trims)."""
    offset = plain_offset(tz, day)
    if offset is not None:
        return _run_fires(match, tz, day, _Run(None, None, offset), start)
    return _shifted_fires(match, tz, day, rules, start)


def _run_fires(
    match: CronMatch, tz: ZoneInfo, day: date, run: _Run, start: datetime
) -> Iterator[Fire]:
    floor = (start + run.offset).replace(tzinfo=None)  # the window's start, as wall time
    if run.low is not None:
        floor = max(floor, run.low)
    for wall in _walls(match, day, floor, run.high):
        at = (wall - run.offset).replace(tzinfo=UTC)
        note = None
        if run.notes:
            note = next((n for low, high, n in run.notes if low <= wall < high), None)
        yield Fire(at, at.astimezone(tz), note)


def _shifted_fires(
    match: CronMatch, tz: ZoneInfo, day: date, rules: _Rules, start: datetime
) -> Iterator[Fire]:
    """Fires of a day with a DST transition, by SPEC's fixed-time / interval rules, in order
    of `at`: the day's walls split at each shift into runs of one offset, computed lazily."""
    offset, day_shifts = shifts(tz, day)
    run = _Run(None, None, offset)
    once = rules.fixed_time and rules.dst_repeat == "once"
    for shift in day_shifts:
        low, high = shift.walls
        if shift.gap:
            yield from _run_fires(match, tz, day, replace(run, high=shift.wall_before), start)
            walls = list(_walls(match, day, low, high)) if rules.fixed_time else []
            if walls and rules.dst_gap == "run":
                note = (
                    f"skipped hour: runs right after the jump (for {_clock(walls, rules.seconds)})"
                )
                yield Fire(shift.at, shift.at.astimezone(tz), note)
            run = _Run(shift.wall_after, None, shift.after)
            continue
        first = "repeated hour: runs once, at the first" if once else "repeated hour: first of two"
        notes = (*run.notes, (low, high, first))
        yield from _run_fires(match, tz, day, replace(run, high=high, notes=notes), start)
        if once:
            run = _Run(high, None, shift.after)
        else:
            run = _Run(low, None, shift.after, ((low, high, "repeated hour: second of two"),))
    yield from _run_fires(match, tz, day, run, start)


def _dst_walls(match: CronMatch, tz: ZoneInfo, day: date) -> Iterator[tuple[Shift, datetime]]:
    """(shift, naive wall) of the day's matches that fall in a gap or a repeat; nothing on a
    day without a transition."""
    if not match.day_matches(day) or plain_offset(tz, day) is not None:
        return
    for shift in shifts(tz, day)[1]:
        for wall in _walls(match, day, *shift.walls):
            yield shift, wall


def _clock(walls: list[datetime], seconds: bool = False) -> str:
    """`02:30`, `02:00, 02:30`, or `02:00 … 02:59 (60 times)` for a long list."""
    fmt = "%H:%M:%S" if seconds else "%H:%M"
    if len(walls) <= 3:
        return ", ".join(w.strftime(fmt) for w in walls)
    return f"{walls[0].strftime(fmt)} … {walls[-1].strftime(fmt)} ({len(walls)} times)"
