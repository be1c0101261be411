"""Consumer-lag evaluation, Burrow style: a pure verdict over a window of offset samples.

A *sample* is one observation of one partition: when, the group's committed offset (None
without a commit) and the end offset (high watermark). A group's verdict combines:

- thresholds on the newest sample: total lag strictly over `warn_lag` is WARNING, over
  `max_lag` CRITICAL; the oldest unconsumed message's age likewise against
  `warn_lag_seconds` / `max_lag_seconds`;
- Burrow's rules, which need commits spread over real time: they judge a partition's
  *trend window*, its newest samples reaching back at least `span` seconds before the
  newest one (and at least `MIN_TREND_SAMPLES` of them; samples before the first commit
  do not count). Samples that do not reach back that far make no trend verdict, and the
  thresholds alone decide. Over a trend window, in this order:
  1. the lag was 0 in some sample of the window: OK (the consumer caught up);
  2. the committed offset went back between two samples: WARNING (rewind / reset);
  3. the committed offset is the same in every sample (lag > 0 throughout): CRITICAL,
     *stalled*;
  4. the committed offset advanced, the lag never shrank between two consecutive samples
     and the newest lag is larger than the oldest: WARNING, *lag growing*;
  5. otherwise OK.
- STOPPED (reported at CRITICAL level): the group has no active members, has lag, and not
  one committed offset of any of its partitions moved across a trend window: nobody is
  consuming at all (rather than a live consumer stuck on a partition, which is *stalled*).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from itertools import pairwise

from jobctl.domain.durations import format_duration

MIN_TREND_SAMPLES = 3
DEFAULT_WINDOW = 600.0  # seconds a trend window spans at least (`--window`)


class LagStatus(StrEnum):
    OK = "OK"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"
    STOPPED = "STOPPED"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {LagStatus.OK: 0, LagStatus.WARNING: 1, LagStatus.CRITICAL: 2, LagStatus.STOPPED: 3}

PartitionKey = tuple[str, int]  # (topic, partition)


@dataclass(frozen=True)
class Sample:
    """One observation of one partition of one group."""

    at: datetime
    committed: int | None
    end: int

    @property
    def lag(self) -> int | None:
        """Messages not yet consumed; None without a commit."""
        return None if self.committed is None else max(self.end - self.committed, 0)


@dataclass(frozen=True)
class Thresholds:
    """Each limit triggers when the value is strictly over it; None disables it."""

    warn_lag: int | None = None
    max_lag: int | None = None
    warn_lag_seconds: float | None = None
    max_lag_seconds: float | None = None


@dataclass(frozen=True)
class Verdict:
    status: LagStatus
    reason: str


def _span(samples: Sequence[Sample]) -> str:
    seconds = (samples[-1].at - samples[0].at).total_seconds()
    return f"{len(samples)} samples in {format_duration(seconds)}"


def trend_window(samples: Sequence[Sample], span: float) -> Sequence[Sample] | None:
    """The newest of `samples` (oldest first) that reach back at least `span` seconds
    before the newest one and number at least `MIN_TREND_SAMPLES`; None when they do not."""
    if len(samples) < MIN_TREND_SAMPLES:
        return None
    newest = samples[-1].at
    for start in range(len(samples) - MIN_TREND_SAMPLES, -1, -1):
        if (newest - samples[start].at).total_seconds() >= span:
            return samples[start:]
    return None


def partition_trend(key: PartitionKey, window: Sequence[Sample], span: float) -> Verdict | None:
    """The trend verdict of one partition's samples (oldest first) over their trend window
    (of the samples that carry a commit), or None when they have none."""
    samples = trend_window([s for s in window if s.committed is not None], span)
    if samples is None:
        return None
    name = f"{key[0]}/{key[1]}"
    lags = [s.lag or 0 for s in samples]
    committed = [s.committed or 0 for s in samples]
    if 0 in lags:
        return Verdict(LagStatus.OK, f"{name} caught up within the window")
    if any(b < a for a, b in pairwise(committed)):
        return Verdict(LagStatus.WARNING, f"{name}: committed offset went back (reset?)")
    if len(set(committed)) == 1:
        return Verdict(
            LagStatus.CRITICAL,
            f"stalled on {name}: committed offset stuck at {committed[0]} for"
            f" {_span(samples)} with lag {lags[-1]}",
        )
    growing = all(b >= a for a, b in pairwise(lags)) and lags[-1] > lags[0]
    if growing:
        return Verdict(
            LagStatus.WARNING,
            f"lag growing on {name}: {lags[0]} -> {lags[-1]} over {_span(samples)}"
            " while commits advance",
        )
    return Verdict(LagStatus.OK, f"{name} keeping up")


def total_lag(windows: Mapping[PartitionKey, Sequence[Sample]]) -> int | None:
    """Sum of the newest lags; None when no partition has a commit."""
    lags = [w[-1].lag for w in windows.values() if w and w[-1].lag is not None]
    return sum(lags) if lags else None


def _thresholds(total: int | None, oldest: float | None, t: Thresholds) -> list[Verdict]:
    found = []
    if total is not None and t.max_lag is not None and total > t.max_lag:
        found.append(Verdict(LagStatus.CRITICAL, f"total lag {total} > max-lag {t.max_lag}"))
    elif total is not None and t.warn_lag is not None and total > t.warn_lag:
        found.append(Verdict(LagStatus.WARNING, f"total lag {total} > warn-lag {t.warn_lag}"))
    if oldest is not None and t.max_lag_seconds is not None and oldest > t.max_lag_seconds:
        found.append(
            Verdict(
                LagStatus.CRITICAL,
                f"oldest unconsumed message {oldest:.0f}s old > max-lag-seconds"
                f" {t.max_lag_seconds:g}s",
            )
        )
    elif oldest is not None and t.warn_lag_seconds is not None and oldest > t.warn_lag_seconds:
        found.append(
            Verdict(
                LagStatus.WARNING,
                f"oldest unconsumed message {oldest:.0f}s old > warn-lag-seconds"
                f" {t.warn_lag_seconds:g}s",
            )
        )
    return found


def _stopped(
    windows: Mapping[PartitionKey, Sequence[Sample]],
    total: int | None,
    has_members: bool | None,
    span: float,
) -> Verdict | None:
    if has_members is not False or not total:
        return None
    judged = [trend_window(w, span) for w in windows.values()]
    longest = max((w for w in judged if w is not None), key=len, default=None)
    if longest is None:
        return None
    for window, trend in zip(windows.values(), judged, strict=True):
        if len({s.committed for s in trend or window}) > 1:
            return None
    return Verdict(
        LagStatus.STOPPED,
        f"no active members and no commit on any partition for the whole window"
        f" ({_span(longest)}), total lag {total}",
    )


def evaluate_group(
    windows: Mapping[PartitionKey, Sequence[Sample]],
    thresholds: Thresholds,
    oldest_seconds: float | None = None,
    has_members: bool | None = None,
    *,
    span: float = DEFAULT_WINDOW,
) -> Verdict:
    """The group's verdict from its partitions' samples (oldest first; the newest is the
    current state), the age of its oldest unconsumed message, whether it has active
    members (None: unknown) and the seconds a trend window must span. The reason names
    every finding, worst first."""
    total = total_lag(windows)
    findings = _thresholds(total, oldest_seconds, thresholds)
    stopped = _stopped(windows, total, has_members, span)
    if stopped is not None:
        findings.append(stopped)
    else:
        trends = [partition_trend(key, windows[key], span) for key in sorted(windows)]
        findings += [v for v in trends if v is not None and v.status is not LagStatus.OK]
    if findings:
        findings.sort(key=lambda v: -v.status.rank)
        return Verdict(findings[0].status, "; ".join(v.reason for v in findings))
    return Verdict(LagStatus.OK, _ok_reason(windows, total, oldest_seconds, span))


def _ok_reason(
    windows: Mapping[PartitionKey, Sequence[Sample]],
    total: int | None,
    oldest: float | None,
    span: float,
) -> str:
    if total is None:
        return "no committed offsets"
    text = f"total lag {total}"
    if oldest:
        text += f", oldest unconsumed message {oldest:.0f}s old"
    committed = [[s for s in w if s.committed is not None] for w in windows.values()]
    if all(trend_window(w, span) is None for w in committed):
        have = max(committed, key=len)
        held = _span(have) if len(have) > 1 else f"{len(have)} sample"
        text += (
            f" (no trend yet: needs {MIN_TREND_SAMPLES}+ samples spanning"
            f" {format_duration(span)}, have {held}; thresholds only)"
        )
    return text
