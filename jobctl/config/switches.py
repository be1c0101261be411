"""The config's top-level switches of the scheduler as a whole (SPEC "Config"):

- `enabled: true|false` (default true): with false every daemon stays up but claims no job
  and fires no schedule (fires are recorded as `disabled`);
- `shadow_mode: {enabled, sampling_percent}`: enabled makes every schedule that does not set
  `shadow` itself a shadow schedule; `sampling_percent` (1-100) is the share of shadow fires
  recorded in the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Problems = list[tuple[tuple[str, ...], str]]
SHADOW_MODE_KEYS = {"enabled", "sampling_percent"}


@dataclass(frozen=True)
class ShadowMode:
    enabled: bool = False
    sampling_percent: int = 100


def parse_enabled(value: Any) -> tuple[bool, Problems]:
    """The top-level `enabled` → (value, problems)."""
    if value is None:
        return True, []
    if not isinstance(value, bool):
        return True, [(("enabled",), f"enabled must be true or false, got {value!r}")]
    return value, []


def parse_shadow_mode(value: Any) -> tuple[ShadowMode, Problems]:
    """The `shadow_mode:` mapping → (ShadowMode, problems as (key path, message))."""
    if value is None:
        return ShadowMode(), []
    if not isinstance(value, dict):
        return ShadowMode(), [(("shadow_mode",), "shadow_mode must be a mapping")]
    problems: Problems = [
        (("shadow_mode", key), f"unknown shadow_mode key {key!r}")
        for key in value
        if key not in SHADOW_MODE_KEYS
    ]
    enabled = value.get("enabled", False)
    if not isinstance(enabled, bool):
        problems.append(
            (("shadow_mode", "enabled"), f"enabled must be true or false, got {enabled!r}")
        )
        enabled = False
    percent = value.get("sampling_percent", 100)
    if isinstance(percent, bool) or not isinstance(percent, int) or not 1 <= percent <= 100:
        message = f"invalid sampling_percent {percent!r}: a whole number from 1 to 100"
        problems.append((("shadow_mode", "sampling_percent"), message))
        percent = 100
    return ShadowMode(enabled, percent), problems
