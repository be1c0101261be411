"""Cron expressions (SPEC "Schedules"): parse and validate once into a pure `CronExpr`.

Accepted: 5 fields `minute hour day-of-month month day-of-week`, or 6 with a seconds field
LAST (`minute hour dom month dow second`: croniter's default reading, and SPEC's "6th
seconds field"); `*`, `N`, `N-M`, `*/S`, `N-M/S`, `N/S` (= N to the field's maximum, step S)
and comma lists; month names `jan`-`dec` and day names `sun`-`sat` (any case; day-of-week 7 is
Sunday too); `@hourly @daily @midnight @weekly @monthly @yearly @annually @reboot`; and
`@every D` (D a whole number of seconds >= 1 in SPEC's duration syntax). croniter's
extensions (`L`, `W`, `#`, `?`, `H`, a 7th year field) are refused: cronie has none of them.

Day matching is cronie's: when day-of-month and day-of-week are both restricted (neither
field starts with `*`) a day matches either; otherwise it must match both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from jobctl.domain.durations import parse_duration
from jobctl.errors import InvalidInput

MACROS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}

_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # the longest of each month
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int] = field(default_factory=dict)
    hint: str = ""


_MINUTE = _Field("minute", 0, 59)
_HOUR = _Field("hour", 0, 23)
_DOM = _Field("day-of-month", 1, 31)
_MONTH = _Field("month", 1, 12, {n: i + 1 for i, n in enumerate(_MONTHS)}, "month name (jan-dec)")
_DOW = _Field("day-of-week", 0, 7, {n: i for i, n in enumerate(_DAYS)}, "day name (sun-sat)")
_SECOND = _Field("second", 0, 59)
_LAYOUT = (_MINUTE, _HOUR, _DOM, _MONTH, _DOW, _SECOND)
_ELEMENT = re.compile(r"^(\*|[a-z0-9]+)(?:-([a-z0-9]+))?(?:/(.*))?$", re.IGNORECASE | re.ASCII)


@dataclass(frozen=True)
class CronMatch:
    """The compiled predicate: allowed values per field (day-of-week 0 = Sunday)."""

    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    dom_star: bool
    dow_star: bool

    def day_matches(self, day: date) -> bool:
        """Whether any time of this calendar day matches (cronie's dom/dow rule)."""
        if day.month not in self.months:
            return False
        dom, dow = day.day in self.days, (day.weekday() + 1) % 7 in self.weekdays
        return (dom and dow) if self.dom_star or self.dow_star else (dom or dow)

    def matches_some_date(self) -> bool:
        """Whether any calendar date ever matches, decided from the fields alone: with both
        day fields restricted a day matches either (every month has each weekday); otherwise
        some month must have one of the days, and each date falls on every weekday over
        the years (Feb 29 included)."""
        if not (self.dom_star or self.dow_star):
            return True
        return any(day <= _MONTH_DAYS[month - 1] for month in self.months for day in self.days)


@dataclass(frozen=True)
class CronExpr:
    """A parsed schedule expression.

    `fields` are in the order written (minute, hour, day-of-month, month, day-of-week, then
    second when `has_seconds`), lower-cased with names turned into numbers, so
    `" ".join(fields)` is a valid croniter expression; a macro is expanded (`@daily` →
    `0 0 * * *`). `every` is the `@every` period in seconds. `fixed_time` is SPEC's
    fixed-time job: no `*` in the minute and hour fields (nor in seconds); every other cron
    expression, `@every` and `@reboot` are not fixed-time.
    """

    text: str
    kind: str  # "cron" | "every" | "reboot"
    fields: tuple[str, ...] = ()
    has_seconds: bool = False
    every: float | None = None
    fixed_time: bool = False
    match: CronMatch | None = field(default=None, repr=False, compare=False)


def parse_cron(text: str) -> CronExpr:
    """Parse `text` → CronExpr, or raise InvalidInput on one line naming the bad field."""
    stripped = str(text).strip()
    if stripped.startswith("@"):
        return _parse_macro(stripped)
    parts = stripped.split()
    if len(parts) not in (5, 6):
        raise InvalidInput(
            f"invalid cron '{stripped}': expected 5 fields (or 6 with seconds), got {len(parts)}"
        )
    return _compile(stripped, parts)


def _parse_macro(text: str) -> CronExpr:
    word, *rest_list = text.split(None, 1)
    word, rest = word.lower(), "".join(rest_list).strip()
    if word == "@every":
        return CronExpr(text=text, kind="every", every=_every_seconds(text, rest))
    if word not in MACROS and word != "@reboot":
        raise InvalidInput(
            f"invalid cron '{text}': unknown macro '{word}' (use @hourly, @daily, @midnight, "
            "@weekly, @monthly, @yearly, @annually, @reboot or @every D)"
        )
    if rest:
        raise InvalidInput(f"invalid cron '{text}': {word} takes no arguments, got '{rest}'")
    if word == "@reboot":
        return CronExpr(text=text, kind="reboot")
    return _compile(text, MACROS[word].split())


def _every_seconds(text: str, duration: str) -> float:
    if not duration:
        raise InvalidInput(f"invalid cron '{text}': @every needs a duration, e.g. @every 5m")
    try:
        seconds = parse_duration(duration).total_seconds()
    except InvalidInput:
        raise InvalidInput(
            f"invalid cron '{text}': @every duration '{duration}' is not valid "
            "(use e.g. 30s, 5m, 2h, 1h30m)"
        ) from None
    if seconds < 1 or seconds != int(seconds):
        raise InvalidInput(
            f"invalid cron '{text}': @every duration '{duration}' must be a whole number "
            "of seconds, at least 1s"
        )
    return float(int(seconds))


def _compile(text: str, parts: list[str]) -> CronExpr:
    parsed = [_parse_field(text, spec, raw) for spec, raw in zip(_LAYOUT, parts, strict=False)]
    values = [v for v, _ in parsed]
    has_seconds = len(parts) == 6
    timed = parts[:2] + parts[5:]
    match = CronMatch(
        seconds=tuple(sorted(values[5])) if has_seconds else (0,),
        minutes=tuple(sorted(values[0])),
        hours=tuple(sorted(values[1])),
        days=frozenset(values[2]),
        months=frozenset(values[3]),
        weekdays=frozenset(d % 7 for d in values[4]),
        dom_star=parts[2].startswith("*"),
        dow_star=parts[4].startswith("*"),
    )
    return CronExpr(
        text=text,
        kind="cron",
        fields=tuple(norm for _, norm in parsed),
        has_seconds=has_seconds,
        fixed_time=not any("*" in part for part in timed),
        match=match,
    )


def _parse_field(text: str, spec: _Field, raw: str) -> tuple[set[int], str]:
    """One field → (allowed values, normalized text)."""
    values: set[int] = set()
    normalized = []
    for item in raw.split(","):
        if not item:
            raise _bad(text, spec, raw, None, "has an empty list item")
        got, norm = _parse_item(text, spec, raw, item)
        values |= got
        normalized.append(norm)
    return values, ",".join(normalized)


def _parse_item(text: str, spec: _Field, raw: str, item: str) -> tuple[set[int], str]:
    found = _ELEMENT.match(item)
    if not found:
        raise _bad(text, spec, raw, item, "is not a valid item (use N, N-M, */S or N-M/S)")
    start, end, step_text = found.groups()
    if start == "*" and end is not None:
        raise _bad(text, spec, raw, item, "is not a valid item (use N, N-M, */S or N-M/S)")
    step = 1
    if step_text is not None:
        if not (step_text.isascii() and step_text.isdigit()):
            raise _bad(text, spec, raw, item, f"has step '{step_text}', not a number")
        step = int(step_text)
        if step == 0:
            raise _bad(text, spec, raw, item, "has a zero step")
        if step > spec.high:
            raise _bad(text, spec, raw, item, f"has step {step} out of range 1-{spec.high}")
    if start == "*":
        low, high, norm = spec.low, spec.high, "*"
    else:
        low = _value(text, spec, raw, start)
        high = _value(text, spec, raw, end) if end is not None else low
        if spec is _DOW and end is not None and end.lower() == "sun":
            high = 7  # `fri-sun`: Sunday closes a range as 7
        if end is None and step_text is not None:
            high = spec.high
        if high < low:
            raise _bad(text, spec, raw, item, "is a reversed range (start after end)")
        norm = str(low) if end is None else f"{low}-{high}"
    if step_text is not None:
        norm = f"{norm}/{step}"
    return set(range(low, high + 1, step)), norm


def _value(text: str, spec: _Field, raw: str, token: str) -> int:
    if token.isdigit():
        number = int(token)
    elif token.lower() in spec.names:
        return spec.names[token.lower()]
    else:
        kind = f"a number or {spec.hint}" if spec.hint else "a number"
        raise _bad(text, spec, raw, token, f"is not {kind}")
    if not spec.low <= number <= spec.high:
        raise _bad(text, spec, raw, token, f"is out of range {spec.low}-{spec.high}")
    return number


def _bad(text: str, spec: _Field, raw: str, token: str | None, problem: str) -> InvalidInput:
    where = f"{spec.name} field '{raw}'"
    if token is not None and token != raw:
        where += f": '{token}'"
    return InvalidInput(f"invalid cron '{text}': {where} {problem}")
