"""Nearest-rank percentiles of small samples (status p95 wait, the run-time lint)."""

from __future__ import annotations

from collections.abc import Iterable


def p95(values: Iterable[float]) -> float | None:
    """The 95th percentile (nearest rank over the sorted sample); None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
