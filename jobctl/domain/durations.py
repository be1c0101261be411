"""Durations (`500ms`, `1h30m`, `30`) and times (ISO 8601, `+5m`) as SPEC writes them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo
from typing import overload

from jobctl.errors import InvalidInput

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(text: str | int | float, what: str = "duration") -> timedelta:
    """`500ms`, `30s`, `5m`, `2h`, `1d`, `1h30m` or a bare number of seconds → timedelta."""
    if isinstance(text, bool):
        raise InvalidInput(f"invalid {what}: {text!r}")
    if isinstance(text, int | float):
        if text < 0:
            raise InvalidInput(f"invalid {what} {text!r}: must not be negative")
        return timedelta(seconds=text)
    value = str(text).strip().lower()
    try:
        seconds = float(value)
    except ValueError:
        pos, seconds = 0, 0.0
        for match in _PART.finditer(value):
            if match.start() != pos:
                break
            seconds += float(match.group(1)) * _UNITS[match.group(2)]
            pos = match.end()
        if pos == 0 or pos != len(value):
            raise InvalidInput(
                f"invalid {what} {text!r}: use e.g. 500ms, 30s, 5m, 2h, 1d, 1h30m or seconds"
            ) from None
    if seconds < 0 or seconds != seconds:
        raise InvalidInput(f"invalid {what} {text!r}: must not be negative")
    return timedelta(seconds=seconds)


def parse_seconds(text: str | int | float, what: str = "duration") -> float:
    """Like parse_duration, in float seconds."""
    return parse_duration(text, what).total_seconds()


def parse_time(
    text: str, now: datetime, local: tzinfo | None = None, what: str = "time"
) -> datetime:
    """ISO 8601 (no offset = `local`, default the system zone) or relative `+5m` → aware UTC."""
    value = text.strip()
    if value.startswith("+"):
        return now + parse_duration(value[1:], what)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"invalid {what} {text!r}: use ISO 8601 (2030-01-01T09:00:00Z) or relative (+5m)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=local) if local else parsed.astimezone()
    return parsed.astimezone(UTC)


def iso_z(moment: datetime | None) -> str | None:
    """ISO 8601 UTC with `Z` (milliseconds dropped when zero), or None."""
    if moment is None:
        return None
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    text = text.replace("+00:00", "Z")
    return text.replace(".000Z", "Z")


def format_duration(seconds: float | None) -> str:
    """Short human form: 850ms, 12.3s, 4m05s, 2h10m, 3d04h."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


@overload
def from_epoch(value: float) -> datetime: ...
@overload
def from_epoch(value: float | None) -> datetime | None: ...


def from_epoch(value: float | None) -> datetime | None:
    """Epoch seconds (as the store keeps them) → aware UTC datetime."""
    return None if value is None else datetime.fromtimestamp(value, UTC)
