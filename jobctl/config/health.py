"""`health` thresholds: the optional `health:` config section and the flags' values.

A threshold triggers when the measured value is strictly over it (free disk: strictly under).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

from jobctl.domain.durations import parse_seconds
from jobctl.errors import InvalidInput

if TYPE_CHECKING:
    from jobctl.config.probes import ProbeSpec

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


@dataclass(frozen=True)
class FreeDisk:
    """A free-space floor: a byte count or a percentage of the volume."""

    text: str
    size: int | None = None
    percent: float | None = None

    def floor(self, total: int) -> float:
        """The floor in bytes on a volume of `total` bytes."""
        return self.size if self.size is not None else total * (self.percent or 0.0) / 100


@dataclass(frozen=True)
class HealthConfig:
    """Thresholds of `jobctl health`; durations in seconds, None disables a check."""

    warn_lag: float | None = 60.0
    max_lag: float | None = 300.0
    warn_depth: int | None = None
    max_depth: int | None = None
    max_heartbeat_age: float | None = None  # None: twice the daemon's heartbeat interval
    min_free_disk: FreeDisk = FreeDisk("5%", percent=5.0)
    warn_dlq_growth: int | None = 0  # dead letters in the last hour
    max_dlq_growth: int | None = None
    schedule_grace: float = 300.0  # dead man's switch: interval + this
    probes: tuple[ProbeSpec, ...] = ()  # dependency probes (config.probes)
    cache: float = 5.0  # /healthz and /metrics run the dependency probes at most this often


KEYS = {
    "warn_lag",
    "max_lag",
    "warn_depth",
    "max_depth",
    "max_heartbeat_age",
    "min_free_disk",
    "warn_dlq_growth",
    "max_dlq_growth",
    "schedule_grace",
    "probes",
    "cache",
}
_DURATIONS = ("warn_lag", "max_lag", "max_heartbeat_age", "schedule_grace", "cache")
_COUNTS = ("warn_depth", "max_depth", "warn_dlq_growth", "max_dlq_growth")


def parse_free_disk(text: str, option: str = "--min-free-disk") -> FreeDisk:
    """`10%`, `500MiB`, `2G` or bare bytes → FreeDisk; InvalidInput naming the value."""
    raw = str(text).strip()
    try:
        if raw.endswith("%"):
            percent = float(raw[:-1])
            if not 0 <= percent <= 100:
                raise ValueError
            return FreeDisk(raw, percent=percent)
        m = _SIZE.match(raw)
        if not m:
            raise ValueError
        unit = (m.group(2) or "").lower().rstrip("b").rstrip("i")
        return FreeDisk(raw, size=int(float(m.group(1)) * _UNITS[unit]))
    except (ValueError, KeyError):
        raise InvalidInput(
            f"invalid {option} {text!r}: use a size (500MiB, 2G) or a percentage (5%)"
        ) from None


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(f"invalid health.{name} {value!r}: use a whole number >= 0")
    return value


def parse_health(value: Any) -> tuple[HealthConfig, list[tuple[tuple[str, ...], str]]]:
    """The `health:` mapping → HealthConfig and its problems as (key path, message)."""
    config = HealthConfig()
    problems: list[tuple[tuple[str, ...], str]] = []
    if value is None:
        return config, problems
    if not isinstance(value, dict):
        return config, [(("health",), "health must be a mapping of thresholds")]
    changes: dict[str, Any] = {}
    for key, item in value.items():
        where: tuple[str, ...] = ("health", key)
        if key not in KEYS:
            problems.append((where, f"unknown health key {key!r}"))
            continue
        if key == "probes":
            from jobctl.config.probes import parse_probes

            changes[key], found = parse_probes(item)
            problems.extend(found)
            continue
        try:
            if item is None:
                changes[key] = None
            elif key in _DURATIONS:
                changes[key] = parse_seconds(str(item), f"health.{key}")
            elif key in _COUNTS:
                changes[key] = _count(item, key)
            else:
                changes[key] = parse_free_disk(str(item), "health.min_free_disk")
        except InvalidInput as exc:
            problems.append((where, str(exc)))
    required = ("min_free_disk", "schedule_grace", "cache")
    if any(key in changes and changes[key] is None for key in required):
        problems.append((("health",), "min_free_disk, schedule_grace and cache cannot be null"))
        for key in required:
            if key in changes and changes[key] is None:
                changes.pop(key)
    known = {f.name for f in fields(HealthConfig)}
    return replace(config, **{k: v for k, v in changes.items() if k in known}), problems
