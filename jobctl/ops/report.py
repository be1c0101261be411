"""Monitoring reports in Nagios levels: `health`, `smoke`, `kafka-lag` and `/healthz`.

A `Probe` is one check with its figure; a `Report` is the worst of its probes. The level
IS the Nagios exit code (OK=0, WARNING=1, CRITICAL=2, UNKNOWN=3).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any


class Level(IntEnum):
    """Nagios status; the value is the exit code."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3

    @property
    def severity(self) -> int:
        """Ordering for "worst of": OK < WARNING < UNKNOWN < CRITICAL."""
        return {0: 0, 1: 1, 3: 2, 2: 3}[int(self)]


def worst(levels: Iterable[Level]) -> Level:
    """The most severe level (CRITICAL beats UNKNOWN beats WARNING beats OK); OK if none."""
    return max(levels, key=lambda lv: lv.severity, default=Level.OK)


@dataclass(frozen=True)
class Probe:
    """One check: `value` is its figure (a number, a string, or None when it could not run)."""

    name: str
    status: Level
    value: Any
    message: str

    def shape(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status.name,
            "value": self.value,
            "message": self.message,
        }


@dataclass(frozen=True)
class Report:
    """A set of probes; `status` is the worst of them."""

    status: Level
    probes: tuple[Probe, ...]

    @classmethod
    def of(cls, probes: Iterable[Probe]) -> Report:
        """The report of `probes`, its status the worst probe's."""
        items = tuple(probes)
        return cls(worst(p.status for p in items), items)

    @property
    def exit_code(self) -> int:
        return int(self.status)

    def shape(self) -> dict[str, Any]:
        """SPEC JSON shape: {"status", "probes": [{name, status, value, message}]}."""
        return {"status": self.status.name, "probes": [p.shape() for p in self.probes]}
