"""Burrow-style lag evaluation over injected windows of samples: tables of (committed, end)
series, and Burrow's rules only over samples spanning the window (issue 13.22)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jobctl.domain.lag import (
    LagStatus,
    Sample,
    Thresholds,
    evaluate_group,
    partition_trend,
    total_lag,
    trend_window,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SPAN = 20.0  # what three samples of `window()` span


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
    verdict = partition_trend(("t", 0), window(*points), SPAN)
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
    assert partition_trend(("t", 0), window(*points), SPAN) is None


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
    verdict = evaluate_group(windows, thresholds, oldest_seconds=oldest, span=SPAN)
    assert verdict.status is status
    assert words in verdict.reason


def test_both_findings_are_named_worst_first() -> None:
    windows = {("t", 0): window((0, 5), (2, 9), (4, 14))}
    verdict = evaluate_group(windows, Thresholds(max_lag=5), span=SPAN)
    assert verdict.status is LagStatus.CRITICAL
    assert verdict.reason.index("max-lag") < verdict.reason.index("lag growing")


def test_group_worst_partition_wins() -> None:
    windows = {
        ("t", 0): window((0, 5), (5, 10), (10, 15)),
        ("t", 1): window((3, 10), (3, 12), (3, 20)),
        ("u", 0): window((0, 5), (2, 9), (4, 14)),
    }
    verdict = evaluate_group(windows, Thresholds(), has_members=True, span=SPAN)
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
    verdict = evaluate_group(windows, Thresholds(), has_members=has_members, span=SPAN)
    assert verdict.status is status


def test_not_stopped_when_one_partition_still_commits() -> None:
    windows = {
        ("t", 0): window((3, 10), (3, 12), (3, 20)),
        ("t", 1): window((1, 9), (2, 9), (4, 9)),
    }
    verdict = evaluate_group(windows, Thresholds(), has_members=False, span=SPAN)
    assert verdict.status is LagStatus.CRITICAL
    assert "stalled on t/0" in verdict.reason


def test_not_stopped_without_lag_or_a_full_window() -> None:
    idle = {("t", 0): window((10, 10), (10, 10), (10, 10))}
    assert evaluate_group(idle, Thresholds(), has_members=False, span=SPAN).status is LagStatus.OK
    short = {("t", 0): window((3, 10), (3, 12))}
    verdict = evaluate_group(short, Thresholds(), has_members=False, span=SPAN)
    assert verdict.status is LagStatus.OK
    assert (
        "no trend yet: needs 3+ samples spanning 20.0s, have 2 samples in 10.0s" in verdict.reason
    )


def test_trend_window_reaches_back_the_span_with_three_samples_at_least() -> None:
    samples = window((1, 9), (2, 9), (3, 9), (4, 9), (5, 9))  # 10 s apart
    assert trend_window(samples, 20) == samples[2:]  # the newest that reach back 20 s
    assert trend_window(samples, 15) == samples[2:]
    assert trend_window(samples, 5) == samples[2:]  # but never fewer than three
    assert trend_window(samples, 40) == samples
    assert trend_window(samples, 40.5) is None  # the history is too short
    assert trend_window(samples[:2], 1) is None
    assert trend_window([], 1) is None


def test_a_quick_burst_of_samples_is_judged_on_thresholds_alone() -> None:
    """Issue 13.22: four samples in 0.9 s with a stuck commit and no member were judged
    STOPPED (CRITICAL) although the lag was under --warn-lag/--max-lag."""
    stuck = {("t", 0): window((1, 4), (1, 4), (1, 4), (1, 4), step=0.3)}
    under = Thresholds(warn_lag=5, max_lag=10)
    verdict = evaluate_group(stuck, under, has_members=False)  # default --window 10m
    assert verdict.status is LagStatus.OK
    assert verdict.reason == (
        "total lag 3 (no trend yet: needs 3+ samples spanning 10m00s, have 4 samples in"
        " 900ms; thresholds only)"
    )
    over = evaluate_group(stuck, Thresholds(warn_lag=1, max_lag=2), has_members=False)
    assert (over.status, over.reason) == (LagStatus.CRITICAL, "total lag 3 > max-lag 2")
    assert evaluate_group(stuck, under, has_members=False, span=0.9).status is LagStatus.STOPPED


def test_rules_apply_once_the_samples_span_the_window() -> None:
    stuck = [(1, 4)] * 4
    spread = {("t", 0): window(*stuck, step=200)}  # 4 samples in 10 minutes
    verdict = evaluate_group(spread, Thresholds(warn_lag=5), has_members=False)
    assert verdict.status is LagStatus.STOPPED
    assert "for the whole window (4 samples in 10m00s), total lag 3" in verdict.reason
    live = evaluate_group(spread, Thresholds(warn_lag=5), has_members=True)
    assert live.status is LagStatus.CRITICAL and "stalled on t/0" in live.reason


def test_only_the_newest_samples_spanning_the_window_are_judged() -> None:
    # the commit moved 20 minutes ago and has been stuck for the last 10 minutes
    moved_then_stuck = window((1, 9), (2, 9), (2, 9), (2, 9), (2, 9), step=300)
    verdict = partition_trend(("t", 0), moved_then_stuck, 600)
    assert verdict is not None and verdict.status is LagStatus.CRITICAL
    assert "stuck at 2 for 3 samples in 10m00s" in verdict.reason
    whole = partition_trend(("t", 0), moved_then_stuck, 1200)
    assert whole is not None and whole.status is LagStatus.OK  # the commit moved in 20 minutes


def test_no_commits_at_all() -> None:
    verdict = evaluate_group({("t", 0): window((None, 3))}, Thresholds(max_lag=0))
    assert verdict == evaluate_group({("t", 0): window((None, 3))}, Thresholds())
    assert verdict.status is LagStatus.OK
    assert verdict.reason == "no committed offsets"


def test_status_ranks() -> None:
    ordered = [LagStatus.OK, LagStatus.WARNING, LagStatus.CRITICAL, LagStatus.STOPPED]
    assert [s.rank for s in ordered] == [0, 1, 2, 3]
