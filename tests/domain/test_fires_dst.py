"""DST by table: the exact UTC fire instants of whole transition days (SPEC: "DST, like cronie").

Expected instants are worked out by hand from each zone's 2026 transitions (UTC instant, and
the local wall times skipped or repeated):
  Europe/Berlin        spring 03-29 01:00Z (02:00-03:00 skipped), fall 10-25 01:00Z (02-03 twice)
  America/New_York     spring 03-08 07:00Z (02:00-03:00 skipped), fall 11-01 06:00Z (01-02 twice)
  Australia/Sydney     spring 10-03 16:00Z (02:00-03:00 skipped), fall 04-04 16:00Z (02-03 twice)
  Australia/Lord_Howe  spring 10-03 15:30Z (02:00-02:30 skipped), fall 04-04 15:00Z (01:30-02:00
                       twice): a 30-minute shift, +10:30 <-> +11
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter

from jobctl.domain.cron import parse_cron
from jobctl.domain.fires import dst_skipped, fires_between, next_fires

# The local calendar day of each transition, as UTC bounds [first instant, next day's first).
DAYS = {
    "berlin-spring": ("Europe/Berlin", "2026-03-28T23:00", "2026-03-29T22:00"),
    "berlin-fall": ("Europe/Berlin", "2026-10-24T22:00", "2026-10-25T23:00"),
    "ny-spring": ("America/New_York", "2026-03-08T05:00", "2026-03-09T04:00"),
    "ny-fall": ("America/New_York", "2026-11-01T04:00", "2026-11-02T05:00"),
    "sydney-spring": ("Australia/Sydney", "2026-10-03T14:00", "2026-10-04T13:00"),
    "sydney-fall": ("Australia/Sydney", "2026-04-04T13:00", "2026-04-05T14:00"),
    "lordhowe-spring": ("Australia/Lord_Howe", "2026-10-03T13:30", "2026-10-04T13:00"),
    "lordhowe-fall": ("Australia/Lord_Howe", "2026-04-04T13:00", "2026-04-05T13:30"),
}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def hours(day: str, *times: str) -> list[datetime]:
    """`hours("2026-03-29", "01:00", "+1 02:00")`: UTC instants; `+1`/`-1`: next/previous day."""
    out = []
    for t in times:
        shift, _, clock = t.rpartition(" ")
        out.append(utc(f"{day}T{clock}") + timedelta(days=int(shift or 0)))
    return out


def day_fires(day: str, expr: str, gap: str = "run", repeat: str = "once") -> list[datetime]:
    zone, first, after = DAYS[day]
    start, end = utc(first) - timedelta(seconds=1), utc(after) - timedelta(seconds=1)
    fires = fires_between(
        parse_cron(expr), ZoneInfo(zone), start, end, dst_gap=gap, dst_repeat=repeat
    )
    return [f.at for f in fires]


# (day, expr, dst_gap, dst_repeat, expected UTC instants) for fixed-time jobs.
FIXED = [
    # Spring forward: a time in the gap runs once at the jump, or not at all with "skip".
    ("berlin-spring", "30 2 * * *", "run", "once", hours("2026-03-29", "01:00")),
    ("berlin-spring", "30 2 * * *", "skip", "once", []),
    ("berlin-spring", "0 1 * * *", "run", "once", hours("2026-03-29", "00:00")),
    ("berlin-spring", "0 1 * * *", "skip", "both", hours("2026-03-29", "00:00")),
    ("berlin-spring", "0,30 2 * * *", "run", "once", hours("2026-03-29", "01:00")),
    ("berlin-spring", "0,30 2,3 * * *", "run", "once", hours("2026-03-29", "01:00", "01:30")),
    ("berlin-spring", "0,30 2,3 * * *", "skip", "once", hours("2026-03-29", "01:00", "01:30")),
    ("ny-spring", "30 2 * * *", "run", "once", hours("2026-03-08", "07:00")),
    ("ny-spring", "30 2 * * *", "skip", "both", []),
    ("ny-spring", "0 1 * * *", "run", "once", hours("2026-03-08", "06:00")),
    ("ny-spring", "0 1 * * *", "skip", "both", hours("2026-03-08", "06:00")),
    ("sydney-spring", "30 2 * * *", "run", "once", hours("2026-10-03", "16:00")),
    ("sydney-spring", "30 2 * * *", "skip", "once", []),
    ("sydney-spring", "0 1 * * *", "run", "once", hours("2026-10-03", "15:00")),
    ("sydney-spring", "0 1 * * *", "skip", "both", hours("2026-10-03", "15:00")),
    ("lordhowe-spring", "15 2 * * *", "run", "once", hours("2026-10-03", "15:30")),
    ("lordhowe-spring", "15 2 * * *", "skip", "once", []),
    ("lordhowe-spring", "30 2 * * *", "run", "once", hours("2026-10-03", "15:30")),
    ("lordhowe-spring", "30 2 * * *", "skip", "both", hours("2026-10-03", "15:30")),
    # 02:00 and 02:15 fall in the gap and run at the jump, the very instant 02:30 exists: once.
    ("lordhowe-spring", "0,15,30 2 * * *", "run", "once", hours("2026-10-03", "15:30")),
    ("lordhowe-spring", "0,15,30 2 * * *", "skip", "once", hours("2026-10-03", "15:30")),
    ("lordhowe-spring", "0 1 * * *", "run", "once", hours("2026-10-03", "14:30")),
    ("lordhowe-spring", "0 1 * * *", "skip", "both", hours("2026-10-03", "14:30")),
    # Fall back: a repeated time runs at the first pass, or at both with "both".
    ("berlin-fall", "30 2 * * *", "run", "once", hours("2026-10-25", "00:30")),
    ("berlin-fall", "30 2 * * *", "run", "both", hours("2026-10-25", "00:30", "01:30")),
    ("berlin-fall", "0 1 * * *", "run", "both", hours("2026-10-24", "23:00")),
    ("berlin-fall", "0 1 * * *", "run", "once", hours("2026-10-24", "23:00")),
    ("ny-fall", "30 2 * * *", "run", "both", hours("2026-11-01", "07:30")),
    ("ny-fall", "30 2 * * *", "run", "once", hours("2026-11-01", "07:30")),
    ("ny-fall", "0 1 * * *", "run", "once", hours("2026-11-01", "05:00")),
    ("ny-fall", "0 1 * * *", "skip", "both", hours("2026-11-01", "05:00", "06:00")),
    ("sydney-fall", "30 2 * * *", "run", "once", hours("2026-04-04", "15:30")),
    ("sydney-fall", "30 2 * * *", "run", "both", hours("2026-04-04", "15:30", "16:30")),
    ("sydney-fall", "0 1 * * *", "run", "both", hours("2026-04-04", "14:00")),
    ("sydney-fall", "0 1 * * *", "run", "once", hours("2026-04-04", "14:00")),
    ("lordhowe-fall", "45 1 * * *", "run", "once", hours("2026-04-04", "14:45")),
    ("lordhowe-fall", "45 1 * * *", "run", "both", hours("2026-04-04", "14:45", "15:15")),
    ("lordhowe-fall", "30 2 * * *", "run", "both", hours("2026-04-04", "16:00")),
    ("lordhowe-fall", "0 1 * * *", "run", "both", hours("2026-04-04", "14:00")),
    ("lordhowe-fall", "30 2 * * *", "run", "once", hours("2026-04-04", "16:00")),
    ("lordhowe-fall", "0 1 * * *", "run", "once", hours("2026-04-04", "14:00")),
]


def test_the_fixed_time_table_covers_every_zone_expression_and_setting() -> None:
    # Each transition day, for `30 2` and `0 1`: both --dst-gap values on a spring day, both
    # --dst-repeat values on a fall day (the setting that matters there).
    seen = {(day, expr, gap if "spring" in day else repeat) for day, expr, gap, repeat, _ in FIXED}
    wanted = {
        (day, expr, setting)
        for day in DAYS
        for expr in ("30 2 * * *", "0 1 * * *")
        for setting in (("run", "skip") if "spring" in day else ("once", "both"))
    }
    assert wanted - seen == set()


@pytest.mark.parametrize("day,expr,gap,repeat,expected", FIXED)
def test_fixed_time_jobs_on_transition_days(
    day: str, expr: str, gap: str, repeat: str, expected: list[datetime]
) -> None:
    assert day_fires(day, expr, gap, repeat) == expected


# `0 */2 * * *` is an interval job: every existing wall-clock match, both passes of a repeat.
# Rows are keyed on the local transition date; "-1"/"+1" shift to the neighbouring UTC day.
TWO_HOURLY = [
    # 00:00 CET, (02:00 does not exist), 04:00 CEST .. 22:00 CEST
    ("berlin-spring", hours("2026-03-29", "-1 23:00", "02:00", "04:00", "06:00", "08:00",
                            "10:00", "12:00", "14:00", "16:00", "18:00", "20:00")),
    # 00:00 CEST, 02:00 CEST, 02:00 CET, 04:00 CET .. 22:00 CET
    ("berlin-fall", hours("2026-10-25", "-1 22:00", "00:00", "01:00", "03:00", "05:00",
                          "07:00", "09:00", "11:00", "13:00", "15:00", "17:00", "19:00",
                          "21:00")),
    ("ny-spring", hours("2026-03-08", "05:00", "08:00", "10:00", "12:00", "14:00", "16:00",
                        "18:00", "20:00", "22:00", "+1 00:00", "+1 02:00")),
    ("ny-fall", hours("2026-11-01", "04:00", "07:00", "09:00", "11:00", "13:00", "15:00",
                      "17:00", "19:00", "21:00", "23:00", "+1 01:00", "+1 03:00")),
    ("sydney-spring", hours("2026-10-04", "-1 14:00", "-1 17:00", "-1 19:00", "-1 21:00",
                            "-1 23:00", "01:00", "03:00", "05:00", "07:00", "09:00",
                            "11:00")),
    ("sydney-fall", hours("2026-04-05", "-1 13:00", "-1 15:00", "-1 16:00", "-1 18:00",
                          "-1 20:00", "-1 22:00", "00:00", "02:00", "04:00", "06:00", "08:00",
                          "10:00", "12:00")),
    # 00:00 +10:30, (02:00 does not exist), 04:00 +11 .. 22:00 +11
    ("lordhowe-spring", hours("2026-10-04", "-1 13:30", "-1 17:00", "-1 19:00", "-1 21:00",
                              "-1 23:00", "01:00", "03:00", "05:00", "07:00", "09:00",
                              "11:00")),
    # 00:00 +11, 02:00 +10:30 (after the repeat of 01:30-02:00) .. 22:00 +10:30
    ("lordhowe-fall", hours("2026-04-05", "-1 13:00", "-1 15:30", "-1 17:30", "-1 19:30",
                            "-1 21:30", "-1 23:30", "01:30", "03:30", "05:30", "07:30",
                            "09:30", "11:30")),
]  # fmt: skip


@pytest.mark.parametrize("gap,repeat", [("run", "once"), ("skip", "both")])
@pytest.mark.parametrize("day,expected", TWO_HOURLY)
def test_two_hourly_interval_job_on_transition_days(
    day: str, expected: list[datetime], gap: str, repeat: str
) -> None:
    # Interval jobs ignore dst_gap / dst_repeat.
    assert day_fires(day, "0 */2 * * *", gap, repeat) == expected


# `*/15 * * * *`: (day, count, the instants around the transition).
QUARTERLY = [
    ("berlin-spring", 92, hours("2026-03-29", "00:30", "00:45", "01:00", "01:15")),
    ("berlin-fall", 100, hours("2026-10-25", "00:45", "01:00", "01:15")),
    ("ny-spring", 92, hours("2026-03-08", "06:45", "07:00", "07:15")),
    ("ny-fall", 100, hours("2026-11-01", "05:45", "06:00", "06:15")),
    ("sydney-spring", 92, hours("2026-10-03", "15:45", "16:00", "16:15")),
    ("sydney-fall", 100, hours("2026-04-04", "15:45", "16:00", "16:15")),
    ("lordhowe-spring", 94, hours("2026-10-03", "15:15", "15:30", "15:45")),
    ("lordhowe-fall", 98, hours("2026-04-04", "14:30", "14:45", "15:00", "15:15", "15:30")),
]


@pytest.mark.parametrize("gap,repeat", [("run", "once"), ("skip", "both")])
@pytest.mark.parametrize("day,count,around", QUARTERLY)
def test_quarter_hourly_job_follows_real_elapsed_time(
    day: str, count: int, around: list[datetime], gap: str, repeat: str
) -> None:
    fires = day_fires(day, "*/15 * * * *", gap, repeat)
    assert len(fires) == count
    i = fires.index(around[0])
    assert fires[i : i + len(around)] == around
    # Whole-hour and half-hour shifts alike: one fire every 15 real minutes, all day.
    assert {b - a for a, b in itertools.pairwise(fires)} == {timedelta(minutes=15)}


def test_croniter_naive_iteration_would_fire_twice_but_we_fire_once() -> None:
    # Given `30 2 * * *` in Berlin on the fall-back day 2026-10-25 (02:00-03:00 happens twice)
    berlin = ZoneInfo("Europe/Berlin")
    start, end = utc("2026-10-24T22:00"), utc("2026-10-25T23:00")
    naive = croniter("30 2 * * *", start.astimezone(berlin))
    croniter_fires = []
    while (fire := naive.get_next(datetime)) < end:
        croniter_fires.append(fire.astimezone(UTC))
    # When croniter is iterated on aware datetimes it fires at both passes (the SPEC's bug)
    assert croniter_fires == hours("2026-10-25", "00:30", "01:30")
    # Then our engine fires once, at the first pass
    fires = list(fires_between(parse_cron("30 2 * * *"), berlin, start, end))
    assert [f.at for f in fires] == hours("2026-10-25", "00:30")
    assert fires[0].nominal.isoformat() == "2026-10-25T02:30:00+02:00"


def test_gap_fire_is_noted_and_its_nominal_is_the_instant_after_the_jump() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    expr = parse_cron("0,30 2 * * *")
    [fire] = fires_between(expr, berlin, utc("2026-03-29T00:00"), utc("2026-03-29T03:00"))
    assert fire.at == utc("2026-03-29T01:00")
    assert fire.nominal.isoformat() == "2026-03-29T03:00:00+02:00"
    assert fire.dst_note == "skipped hour: runs right after the jump (for 02:00, 02:30)"


def test_repeat_fires_are_noted_first_and_second() -> None:
    ny = ZoneInfo("America/New_York")
    fires = list(
        fires_between(
            parse_cron("0 1 * * *"), ny, utc("2026-11-01T00:00"), utc("2026-11-02T00:00"),
            dst_repeat="both",
        )
    )  # fmt: skip
    assert [f.dst_note for f in fires] == [
        "repeated hour: first of two",
        "repeated hour: second of two",
    ]
    assert [f.nominal.isoformat() for f in fires] == [
        "2026-11-01T01:00:00-04:00",
        "2026-11-01T01:00:00-05:00",
    ]
    [once] = fires_between(
        parse_cron("0 1 * * *"), ny, utc("2026-11-01T00:00"), utc("2026-11-02T00:00")
    )
    assert once.dst_note == "repeated hour: runs once, at the first"


def test_plain_fires_carry_no_note_and_nominal_is_local_time() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    [fire] = fires_between(
        parse_cron("30 2 * * *"), berlin, utc("2026-06-01T00:00"), utc("2026-06-02T00:00")
    )
    assert (fire.at, fire.dst_note) == (utc("2026-06-01T00:30"), None)
    assert fire.nominal.isoformat() == "2026-06-01T02:30:00+02:00"


@pytest.mark.parametrize(
    "expr,zone,start,end,expected",
    [
        ("30 2 * * *", "Europe/Berlin", "2026-03-29T00:00", "2026-03-29T02:00",
         ["2026-03-29T02:30:00+01:00"]),
        ("0,30 2 * * *", "America/New_York", "2026-03-08T00:00", "2026-03-09T00:00",
         ["2026-03-08T02:00:00-05:00", "2026-03-08T02:30:00-05:00"]),
        ("15 2 * * *", "Australia/Lord_Howe", "2026-10-03T00:00", "2026-10-04T00:00",
         ["2026-10-04T02:15:00+10:30"]),
        # The jump (01:00Z) lies outside the window: nothing to record.
        ("30 2 * * *", "Europe/Berlin", "2026-03-29T01:00", "2026-03-30T00:00", []),
        # Repeats, interval jobs and plain days never skip.
        ("30 2 * * *", "Europe/Berlin", "2026-10-24T00:00", "2026-10-26T00:00", []),
        ("*/15 * * * *", "Europe/Berlin", "2026-03-29T00:00", "2026-03-30T00:00", []),
        ("@every 1h", "Europe/Berlin", "2026-03-29T00:00", "2026-03-30T00:00", []),
    ],
)  # fmt: skip
def test_dst_skipped_lists_the_wall_times_a_gap_swallowed(
    expr: str, zone: str, start: str, end: str, expected: list[str]
) -> None:
    skipped = dst_skipped(parse_cron(expr), ZoneInfo(zone), utc(start), utc(end))
    assert [w.isoformat() for w in skipped] == expected


def _brute_force(expr: str, tz: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """Every real minute whose local wall time matches (croniter's expansion of the minute
    and hour fields): the meaning of an interval job."""
    (minutes, hrs, *_), _ = croniter.expand(expr)
    minutes = range(60) if "*" in minutes else minutes
    hrs = range(24) if "*" in hrs else hrs
    out, at = [], start + timedelta(minutes=1)
    while at <= end:
        local = at.astimezone(tz)
        if local.minute in minutes and local.hour in hrs:
            out.append(at)
        at += timedelta(minutes=1)
    return out


@pytest.mark.parametrize("expr", ["*/20 * * * *", "10 */3 * * *", "*/30 0,1,23 * * *"])
@pytest.mark.parametrize(
    "zone,transition",
    [
        ("Europe/Berlin", "2026-03-29T01:00"),
        ("America/New_York", "2026-11-01T06:00"),
        ("Australia/Lord_Howe", "2026-04-04T15:00"),
        ("America/Santiago", "2026-04-05T03:00"),  # falls back at midnight: 23:xx twice
        ("America/Santiago", "2026-09-06T04:00"),  # springs forward at midnight: no 00:xx
        ("Asia/Beirut", "2026-10-24T21:00"),
    ],
)
def test_interval_jobs_fire_at_every_existing_wall_time(
    expr: str, zone: str, transition: str
) -> None:
    tz = ZoneInfo(zone)
    start, end = utc(transition) - timedelta(hours=8), utc(transition) + timedelta(hours=8)
    got = [f.at for f in fires_between(parse_cron(expr), tz, start, end)]
    assert got == _brute_force(expr, tz, start, end)


class _CountingZone(ZoneInfo):
    """A zone that counts the UTC offsets asked of it: the work the fire engine does."""

    asked = 0

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        type(self).asked += 1
        return super().utcoffset(dt)


@pytest.mark.parametrize("day", ["2026-03-29", "2026-10-25"])
def test_the_next_fire_of_a_per_second_schedule_costs_no_more_on_a_dst_day(day: str) -> None:
    # Given a per-second schedule in Berlin, its next fire seen from a plain day's noon
    expr = parse_cron("* * * * * *")
    zone = _CountingZone.no_cache("Europe/Berlin")

    def offsets_asked(start: datetime) -> int:
        _CountingZone.asked = 0
        (fire,) = next_fires(expr, zone, start, 1)
        assert fire.at == start + timedelta(seconds=1)
        return _CountingZone.asked

    plain = offsets_asked(utc("2026-06-01T10:00"))
    # When it is asked on a transition day (before, inside and after the shifted hour)
    for clock in ("00:30", "01:00", "01:30", "10:00", "21:59"):
        # Then the engine does about the same work: it walks the walls it needs, not the day
        assert offsets_asked(utc(f"{day}T{clock}")) <= 2 * plain + 100
