"""p95 by nearest rank: the figure `status` (p95 wait) and the run-time lint share."""

from __future__ import annotations

import pytest

from jobctl.domain.percentile import p95


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], None),
        ([3.0], 3.0),
        ([5.0, 1.0], 5.0),
        ([float(n) for n in range(1, 101)], 95.0),
        ([float(n) for n in range(20, 0, -1)], 19.0),
    ],
)
def test_p95_is_the_nearest_rank_of_the_sorted_sample(
    values: list[float], expected: float | None
) -> None:
    assert p95(values) == expected
