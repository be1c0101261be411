"""Which fires were missed (the misfire grace, capped by the schedule's own interval), and
what the misfire policy runs of them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jobctl.domain.schedule import Misfire, missed_fires, plan_missed

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def seconds(*offsets: float) -> list[datetime]:
    return [T0 + timedelta(seconds=s) for s in offsets]


@pytest.mark.parametrize(
    "fires,now,grace,missed",
    [
        # every second, handled at +4.5 s: +1..+3 had their successor due already
        ((1, 2, 3, 4), 4.5, 60, (1, 2, 3)),
        # every minute, 90 s after the first: within neither the grace nor the interval
        ((60, 120), 150, 60, (60,)),
        # every minute, a 30 s grace is the tighter bound
        ((60,), 100, 30, (60,)),
        ((60,), 80, 30, ()),
        # the last fire is judged by the grace alone (its successor is not due yet)
        ((0,), 0.9, 60, ()),
        # uneven gaps (`0,1 * * * *`): each fire is capped by the gap to the next
        ((0, 60, 3600), 3600.5, 600, (0, 60)),
        ((), 10, 60, ()),
    ],
)
def test_a_fire_is_missed_past_the_grace_or_once_the_next_was_due(
    fires: tuple[float, ...], now: float, grace: float, missed: tuple[float, ...]
) -> None:
    got = missed_fires(seconds(*fires), T0 + timedelta(seconds=now), timedelta(seconds=grace))
    assert got == seconds(*missed)


def test_misfire_policies_choose_among_the_missed() -> None:
    missed = seconds(1, 2, 3)
    assert [run for _, run in plan_missed(missed, Misfire.SKIP)] == [False, False, False]
    assert [run for _, run in plan_missed(missed, Misfire.ONCE)] == [False, False, True]
    assert [run for _, run in plan_missed(missed, Misfire.ALL)] == [True, True, True]
