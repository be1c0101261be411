"""Burrow-style lag evaluation over windows of samples: tables of (committed, end) series."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jobctl.domain.lag import (
    MIN_TREND_SAMPLES,
    LagStatus,
    Sample,
    Thresholds,
    evaluate_group,
    partition_trend,
    total_lag,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def window(*points: tuple[int | None, int], step: float = 10) -> list[Sample]:
    """Samples `step` seconds apart from (committed, end) pairs."""
    return [
        Sample(T0 + timedelta(seconds=i * step), committed, end)
        for i, (committed, end) in enumerate(points)
    ]


@pytest.mark.parametrize(
    ("points", "status", "words"),
    [
        # consuming and caught up at some point: OK (Burrow rule 1)
        ([(5, 10), (10, 10), (12, 15)], LagStatus.OK, "caught up"),
        # committed advancing, lag shrinking: OK
        ([(0, 10), (5, 12), (11, 13)], LagStatus.OK, "keeping up"),
        # committed advancing, lag steady: OK (not strictly growing)
        ([(0, 5), (5, 10), (10, 15)], LagStatus.OK, "keeping up"),
        # committed advancing, lag growing at every step: WARNING
        ([(0, 5), (2, 9), (4, 14)], LagStatus.WARNING, "lag growing on t/0: 5 -> 10"),
        # growth with a flat step still counts as never shrinking
        ([(0, 5), (2, 7), (4, 12)], LagStatus.WARNING, "lag growing"),
        # lag shrank once inside the window: not a growing trend
        ([(0, 5), (4, 7), (6, 8), (7, 12)], LagStatus.OK, "keeping up"),
        # committed not moving while lag > 0: CRITICAL stalled (end moving or not)
        ([(3, 10), (3, 12), (3, 20)], LagStatus.CRITICAL, "stalled on t/0"),
        ([(3, 10), (3, 10), (3, 10)], LagStatus.CRITICAL, "stuck at 3"),
        # committed went back: WARNING rewind
        ([(8, 10), (2, 10), (5, 10)], LagStatus.WARNING, "went back"),
        # samples before the first commit do not count toward the trend
        ([(None, 5), (1, 6), (2, 8), (3, 11)], LagStatus.WARNING, "lag growing"),
    ],
)
def test_partition_trend_table(
    points: list[tuple[int | None, int]], status: LagStatus, words: str
) -> None:
    verdict = partition_trend(("t", 0), window(*points))
    assert verdict is not None
    assert verdict.status is status
    assert words in verdict.reason


@pytest.mark.parametrize(
    "points",
    [
        [],
        [(3, 10)],
        [(3, 10), (3, 11)],
        [(None, 10), (None, 11), (None, 12)],
        [(None, 10), (3, 11), (3, 12)],
    ],
)
def test_no_trend_below_min_samples_with_a_commit(points: list[tuple[int | None, int]]) -> None:
    assert partition_trend(("t", 0), window(*points)) is None


def test_lag_is_none_without_commit_and_never_negative() -> None:
    assert Sample(T0, None, 5).lag is None
    assert Sample(T0, 7, 5).lag == 0
    assert Sample(T0, 2, 5).lag == 3


def test_total_lag_uses_the_newest_sample_and_skips_uncommitted() -> None:
    windows = {("a", 0): window((0, 9), (1, 4)), ("a", 1): window((None, 7)), ("b", 0): []}
    assert total_lag(windows) == 3
    assert total_lag({("a", 1): window((None, 7))}) is None


@pytest.mark.parametrize(
    ("total", "oldest", "thresholds", "status", "words"),
    [
        (10, None, Thresholds(), LagStatus.OK, "total lag 10"),
        (10, None, Thresholds(warn_lag=10), LagStatus.OK, "total lag 10"),  # strictly over
        (11, None, Thresholds(warn_lag=10), LagStatus.WARNING, "total lag 11 > warn-lag 10"),
        (11, None, Thresholds(warn_lag=5, max_lag=10), LagStatus.CRITICAL, "> max-lag 10"),
        (11, None, Thresholds(max_lag=11), LagStatus.OK, "total lag 11"),
        (1, 30.0, Thresholds(warn_lag_seconds=20), LagStatus.WARNING, "30s old"),
        (1, 30.0, Thresholds(max_lag_seconds=20), LagStatus.CRITICAL, "max-lag-seconds 20s"),
        (1, 20.0, Thresholds(max_lag_seconds=20), LagStatus.OK, "20s old"),
        (0, 0.0, Thresholds(max_lag=0, max_lag_seconds=0), LagStatus.OK, "total lag 0"),
    ],
)
def test_thresholds_table(
    total: int, oldest: float | None, thresholds: Thresholds, status: LagStatus, words: str
) -> None:
    windows = {("t", 0): window((100, 100 + total))}
    verdict = evaluate_group(windows, thresholds, oldest_seconds=oldest)
    assert verdict.status is status
    assert words in verdict.reason


def test_both_findings_are_named_worst_first() -> None:
    windows = {("t", 0): window((0, 5), (2, 9), (4, 14))}
    verdict = evaluate_group(windows, Thresholds(max_lag=5))
    assert verdict.status is LagStatus.CRITICAL
    assert verdict.reason.index("max-lag") < verdict.reason.index("lag growing")


def test_group_worst_partition_wins() -> None:
    windows = {
        ("t", 0): window((0, 5), (5, 10), (10, 15)),
        ("t", 1): window((3, 10), (3, 12), (3, 20)),
        ("u", 0): window((0, 5), (2, 9), (4, 14)),
    }
    verdict = evaluate_group(windows, Thresholds(), has_members=True)
    assert verdict.status is LagStatus.CRITICAL
    assert "stalled on t/1" in verdict.reason and "lag growing on u/0" in verdict.reason


@pytest.mark.parametrize(
    ("has_members", "status"),
    [(False, LagStatus.STOPPED), (True, LagStatus.CRITICAL), (None, LagStatus.CRITICAL)],
)
def test_stopped_needs_no_members_and_no_commit_anywhere(
    has_members: bool | None, status: LagStatus
) -> None:
    windows = {
        ("t", 0): window((3, 10), (3, 12), (3, 20)),
        ("t", 1): window((None, 4), (None, 4), (None, 4)),
    }
    verdict = evaluate_group(windows, Thresholds(), has_members=has_members)
    assert verdict.status is status


def test_not_stopped_when_one_partition_still_commits() -> None:
    windows = {
        ("t", 0): window((3, 10), (3, 12), (3, 20)),
        ("t", 1): window((1, 9), (2, 9), (4, 9)),
    }
    verdict = evaluate_group(windows, Thresholds(), has_members=False)
    assert verdict.status is LagStatus.CRITICAL
    assert "stalled on t/0" in verdict.reason


def test_not_stopped_without_lag_or_a_full_window() -> None:
    idle = {("t", 0): window((10, 10), (10, 10), (10, 10))}
    assert evaluate_group(idle, Thresholds(), has_members=False).status is LagStatus.OK
    short = {("t", 0): window((3, 10), (3, 12))}
    verdict = evaluate_group(short, Thresholds(), has_members=False)
    assert verdict.status is LagStatus.OK
    assert f"trend needs {MIN_TREND_SAMPLES} samples, have 2" in verdict.reason


def test_no_commits_at_all() -> None:
    verdict = evaluate_group({("t", 0): window((None, 3))}, Thresholds(max_lag=0))
    assert verdict == evaluate_group({("t", 0): window((None, 3))}, Thresholds())
    assert verdict.status is LagStatus.OK
    assert verdict.reason == "no committed offsets"


def test_status_ranks() -> None:
    ordered = [LagStatus.OK, LagStatus.WARNING, LagStatus.CRITICAL, LagStatus.STOPPED]
    assert [s.rank for s in ordered] == [0, 1, 2, 3]
