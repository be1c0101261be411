"""Cron expressions: parsing, fixed vs interval, error messages, next_fires, lint."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter

from jobctl.domain.cron import parse_cron
from jobctl.domain.fires import fires_between, lint, next_fires
from jobctl.errors import InvalidInput

UTC_ZONE = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    "text,fields,has_seconds",
    [
        ("30 2 * * *", ("30", "2", "*", "*", "*"), False),
        ("  */15  *\t* * *  ", ("*/15", "*", "*", "*", "*"), False),
        ("0 9 * * MON-Fri", ("0", "9", "*", "*", "1-5"), False),
        ("0 0 1 jan,JUL *", ("0", "0", "1", "1,7", "*"), False),
        ("0 0 * * fri-sun", ("0", "0", "*", "*", "5-7"), False),
        ("5/20 1-23/7 * * 7", ("5/20", "1-23/7", "*", "*", "7"), False),
        # The 6th field is seconds, last, as croniter reads it.
        ("0 0 * * * */15", ("0", "0", "*", "*", "*", "*/15"), True),
        ("30 2 * * * 45", ("30", "2", "*", "*", "*", "45"), True),
    ],
)
def test_cron_fields_are_normalized_in_written_order(
    text: str, fields: tuple[str, ...], has_seconds: bool
) -> None:
    expr = parse_cron(text)
    assert (expr.kind, expr.fields, expr.has_seconds) == ("cron", fields, has_seconds)
    assert expr.text == text.strip()
    assert croniter.is_valid(" ".join(expr.fields))


def test_seconds_field_is_last() -> None:
    # `30 2 * * * 45` fires at 02:30:45, not at second 30 of minute 2.
    [fire] = next_fires(parse_cron("30 2 * * * 45"), UTC_ZONE, NOW, 1)
    assert fire.at == at("2026-01-01T02:30:45")
    fires = next_fires(parse_cron("0 0 * * * */15"), UTC_ZONE, NOW, 3)
    assert [f.at for f in fires] == [at("2026-01-01T00:00:15"), at("2026-01-01T00:00:30"),
                                     at("2026-01-01T00:00:45")]  # fmt: skip


@pytest.mark.parametrize(
    "macro,fields,fixed",
    [
        ("@hourly", ("0", "*", "*", "*", "*"), False),
        ("@daily", ("0", "0", "*", "*", "*"), True),
        ("@midnight", ("0", "0", "*", "*", "*"), True),
        ("@weekly", ("0", "0", "*", "*", "0"), True),
        ("@monthly", ("0", "0", "1", "*", "*"), True),
        ("@yearly", ("0", "0", "1", "1", "*"), True),
        ("@annually", ("0", "0", "1", "1", "*"), True),
        ("@DAILY", ("0", "0", "*", "*", "*"), True),
    ],
)
def test_macros_expand_to_cron_fields(macro: str, fields: tuple[str, ...], fixed: bool) -> None:
    expr = parse_cron(macro)
    assert (expr.kind, expr.fields, expr.fixed_time, expr.text) == ("cron", fields, fixed, macro)


@pytest.mark.parametrize("text,seconds", [("@every 5m", 300), ("@every 1h30m", 5400),
                                          ("@EVERY  45", 45), ("@every 1d", 86400)])  # fmt: skip
def test_every_takes_a_duration(text: str, seconds: float) -> None:
    expr = parse_cron(text)
    assert (expr.kind, expr.every, expr.fixed_time, expr.fields) == ("every", seconds, False, ())


def test_every_fires_on_epoch_multiples_in_any_zone() -> None:
    expr = parse_cron("@every 7m")
    for zone in (UTC_ZONE, BERLIN, ZoneInfo("Australia/Lord_Howe")):
        fires = next_fires(expr, zone, at("2026-03-29T00:59:59"), 3)
        assert [f.at.timestamp() % 420 for f in fires] == [0, 0, 0]
        assert fires[0].at == at("2026-03-29T01:02:00")  # 1774746120 = 4225586 * 420
        steps = [b.at - a.at for a, b in itertools.pairwise(fires)]
        assert steps == [timedelta(minutes=7)] * 2
        assert fires[0].nominal == fires[0].at.astimezone(zone)


def test_reboot_never_fires_from_the_engine() -> None:
    expr = parse_cron("@reboot")
    assert (expr.kind, expr.fixed_time, expr.fields) == ("reboot", False, ())
    assert list(fires_between(expr, BERLIN, NOW, NOW + timedelta(days=30))) == []
    assert next_fires(expr, BERLIN, NOW, 5) == []
    assert lint(expr, BERLIN, NOW) == []


@pytest.mark.parametrize(
    "text,fixed",
    [
        ("30 2 * * *", True),
        ("0 2,14 * * 1-5", True),
        ("0-59/5 1 * * *", True),  # no `*` in minute or hour: fixed-time per SPEC
        ("30 2 * * * 0", True),
        ("*/15 * * * *", False),
        ("0 */2 * * *", False),
        ("0 * * * *", False),
        ("* 2 * * *", False),
        ("30 2 * * * *", False),  # `*` in seconds
        ("30 2 * * * */10", False),
        ("@every 1d", False),
    ],
)
def test_fixed_time_vs_interval(text: str, fixed: bool) -> None:
    assert parse_cron(text).fixed_time is fixed


@pytest.mark.parametrize(
    "text,message",
    [
        ("61 * * * *", "invalid cron '61 * * * *': minute field '61' is out of range 0-59"),
        ("x y", "invalid cron 'x y': expected 5 fields (or 6 with seconds), got 2"),
        ("* * * * * * *", "invalid cron '* * * * * * *': expected 5 fields (or 6 with seconds), "
                          "got 7"),
        ("", "invalid cron '': expected 5 fields (or 6 with seconds), got 0"),
        ("0 24 * * *", "invalid cron '0 24 * * *': hour field '24' is out of range 0-23"),
        ("5,61 * * * *", "invalid cron '5,61 * * * *': minute field '5,61': '61' is out of range "
                         "0-59"),
        ("0 0 0 * *", "invalid cron '0 0 0 * *': day-of-month field '0' is out of range 1-31"),
        ("0 0 * Foo *", "invalid cron '0 0 * Foo *': month field 'Foo' is not a number or month "
                        "name (jan-dec)"),
        ("0 0 * * 8", "invalid cron '0 0 * * 8': day-of-week field '8' is out of range 0-7"),
        ("0 0 * * mon-xyz", "invalid cron '0 0 * * mon-xyz': day-of-week field 'mon-xyz': 'xyz' "
                            "is not a number or day name (sun-sat)"),
        ("0 mon * * *", "invalid cron '0 mon * * *': hour field 'mon' is not a number"),
        ("*/0 * * * *", "invalid cron '*/0 * * * *': minute field '*/0' has a zero step"),
        ("*/61 * * * *", "invalid cron '*/61 * * * *': minute field '*/61' has step 61 out of "
                         "range 1-59"),
        ("0 1-5/24 * * *", "invalid cron '0 1-5/24 * * *': hour field '1-5/24' has step 24 out "
                           "of range 1-23"),
        ("0 0 */32 * *", "invalid cron '0 0 */32 * *': day-of-month field '*/32' has step 32 "
                         "out of range 1-31"),
        ("0 0 * 1/13 *", "invalid cron '0 0 * 1/13 *': month field '1/13' has step 13 out of "
                         "range 1-12"),
        ("0 0 * * */8", "invalid cron '0 0 * * */8': day-of-week field '*/8' has step 8 out of "
                        "range 1-7"),
        ("0 0 * * * */60", "invalid cron '0 0 * * * */60': second field '*/60' has step 60 out "
                           "of range 1-59"),
        ("0 5-2 * * *", "invalid cron '0 5-2 * * *': hour field '5-2' is a reversed range "
                        "(start after end)"),
        ("1,,2 * * * *", "invalid cron '1,,2 * * * *': minute field '1,,2' has an empty list item"),
        ("0 0 * * * 60", "invalid cron '0 0 * * * 60': second field '60' is out of range 0-59"),
        ("@fortnightly", "invalid cron '@fortnightly': unknown macro '@fortnightly' (use @hourly, "
                         "@daily, @midnight, @weekly, @monthly, @yearly, @annually, @reboot or "
                         "@every D)"),
        ("@daily 5", "invalid cron '@daily 5': @daily takes no arguments, got '5'"),
        ("@every", "invalid cron '@every': @every needs a duration, e.g. @every 5m"),
        ("@every soon", "invalid cron '@every soon': @every duration 'soon' is not valid "
                        "(use e.g. 30s, 5m, 2h, 1h30m)"),
        ("@every 0s", "invalid cron '@every 0s': @every duration '0s' must be a whole number of "
                      "seconds, at least 1s"),
        ("@every 500ms", "invalid cron '@every 500ms': @every duration '500ms' must be a whole "
                         "number of seconds, at least 1s"),
    ],
)  # fmt: skip
def test_errors_name_the_field_and_the_bad_value(text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_cron(text)
    assert str(caught.value) == message
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "text,field",
    [
        ("L * * * *", "minute field 'L'"),  # croniter extensions cronie lacks are refused
        ("0 0 ? * *", "day-of-month field '?'"),
        ("0 0 * * 1#2", "day-of-week field '1#2'"),
        ("0 0 15W * *", "day-of-month field '15W'"),
        ("H * * * *", "minute field 'H'"),
        ("*-5 * * * *", "minute field '*-5'"),
        ("*/x * * * *", "minute field '*/x'"),
        ("1-2-3 * * * *", "minute field '1-2-3'"),
        ("0 0 * * ²", "day-of-week field '²'"),
    ],
)
def test_unsupported_syntax_is_refused_naming_the_field(text: str, field: str) -> None:
    with pytest.raises(InvalidInput, match=f"^invalid cron '.*': {re.escape(field)}"):
        parse_cron(text)


@pytest.mark.parametrize(
    "text",
    ["0 0 1 * mon", "0 0 */2 * mon", "0 0 1-7 * */2", "5/20 1-23/7 * jan-mar,oct fri-sun",
     "0 12 13 * 5", "*/10 3 * feb 0,6"],
)  # fmt: skip
def test_day_matching_is_cronies_and_agrees_with_croniter_in_utc(text: str) -> None:
    # Given cronie's rule (day-of-month OR day-of-week unless either starts with `*`), which
    # croniter implements with implement_cron_bug=True, in a zone without DST
    theirs = croniter(text, NOW, implement_cron_bug=True)
    expected = [theirs.get_next(datetime) for _ in range(30)]
    assert [f.at for f in next_fires(parse_cron(text), UTC_ZONE, NOW, 30)] == expected


def test_next_fires_is_strictly_after_from() -> None:
    expr = parse_cron("30 2 * * *")
    fires = next_fires(expr, BERLIN, at("2026-06-01T00:30"), 2)  # exactly 02:30 CEST
    assert [f.at for f in fires] == [at("2026-06-02T00:30"), at("2026-06-03T00:30")]
    just_before = next_fires(expr, BERLIN, at("2026-06-01T00:29:59.999999"), 1)
    assert [f.at for f in just_before] == [at("2026-06-01T00:30")]


def test_fires_between_excludes_start_and_includes_end() -> None:
    fires = fires_between(parse_cron("0 * * * *"), UTC_ZONE, at("2026-01-01T01:00"),
                          at("2026-01-01T03:00"))  # fmt: skip
    assert [f.at for f in fires] == [at("2026-01-01T02:00"), at("2026-01-01T03:00")]


def test_window_bounds_may_be_in_any_zone() -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    start = at("2026-06-01T00:00").astimezone(tokyo)
    fires = list(fires_between(parse_cron("30 2 * * *"), BERLIN, start, start + timedelta(days=1)))
    assert [f.at for f in fires] == [at("2026-06-01T00:30")]


@pytest.mark.parametrize("text", ["0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 30 2 * 15"])
def test_never_firing_expression_terminates_empty(text: str) -> None:
    assert next_fires(parse_cron(text), BERLIN, NOW, 3) == []


def test_rare_expression_is_searched_beyond_five_years_while_it_keeps_firing() -> None:
    fires = next_fires(parse_cron("0 0 29 2 *"), UTC_ZONE, NOW, 3)
    assert [f.at for f in fires] == [at("2028-02-29T00:00"), at("2032-02-29T00:00"),
                                     at("2036-02-29T00:00")]  # fmt: skip


def test_next_fires_of_zero_is_empty() -> None:
    assert next_fires(parse_cron("* * * * *"), UTC_ZONE, NOW, 0) == []


def test_bad_dst_options_and_naive_times_are_refused() -> None:
    expr = parse_cron("30 2 * * *")
    with pytest.raises(InvalidInput, match="invalid dst_gap 'later'"):
        fires_between(expr, BERLIN, NOW, NOW + timedelta(days=1), dst_gap="later")
    with pytest.raises(InvalidInput, match="invalid dst_repeat 'twice'"):
        fires_between(expr, BERLIN, NOW, NOW + timedelta(days=1), dst_repeat="twice")
    with pytest.raises(ValueError, match="aware"):
        fires_between(expr, BERLIN, datetime(2026, 1, 1), NOW)


def test_lint_warns_on_an_expression_that_never_fires() -> None:
    assert lint(parse_cron("0 0 30 2 *"), BERLIN, NOW) == [
        "'0 0 30 2 *' never fires: day-of-month 30 does not exist in month 2"
    ]


@pytest.mark.parametrize(
    "text,fires",
    [
        ("0 0 30 2 *", False),
        ("0 0 31 4,6,9,11 *", False),
        ("0 0 30,31 feb *", False),
        ("0 0 30 2 */2", False),  # a day-of-week starting with * still ANDs with the day
        ("0 0 29 2 *", True),  # every 4 years (not in 2100: the next after 2096 is 2104)
        ("0 0 29 2 mon", True),  # both day fields restricted: either matches (any Monday)
        ("0 0 31 1-2 *", True),
        ("0 0 * 2 *", True),
    ],
)
def test_never_fires_is_decided_from_the_expression(text: str, fires: bool) -> None:
    # Given an expression, the lint says "never fires" exactly when no date can ever match
    warned = any("never fires" in w for w in lint(parse_cron(text), UTC_ZONE, NOW))
    assert warned is not fires
    # and a schedule that fires has a next fire however far it is (from the year 9000 on too)
    found = next_fires(parse_cron(text), UTC_ZONE, datetime(9000, 3, 1, tzinfo=UTC), 1)
    assert bool(found) is fires


def test_a_rare_fire_is_found_past_a_century_year_that_is_not_leap() -> None:
    fires = next_fires(parse_cron("0 0 29 2 *"), UTC_ZONE, at("2096-03-01T00:00"), 2)
    assert [f.at for f in fires] == [at("2104-02-29T00:00"), at("2108-02-29T00:00")]
    assert lint(parse_cron("0 0 29 2 *"), UTC_ZONE, at("2096-03-01T00:00")) == []


def test_lint_names_the_dst_gap_and_repeat_dates_of_a_fixed_time() -> None:
    assert lint(parse_cron("30 2 * * *"), BERLIN, NOW) == [
        "'30 2 * * *' at 02:30 falls in the DST gap of Europe/Berlin on 2026-03-29 (clocks jump "
        "forward): it runs once right after the jump (skipped with --dst-gap skip)",
        "'30 2 * * *' at 02:30 falls in the DST repeat of Europe/Berlin on 2026-10-25 (clocks "
        "fall back): it runs once, at the first pass (twice with --dst-repeat both)",
    ]


@pytest.mark.parametrize(
    "text,zone,now,expected",
    [
        # After this year's spring-forward, the gap named is next year's (gap first, then repeat).
        ("30 2 * * *", "Europe/Berlin", "2026-04-01T00:00", ["2027-03-28", "2026-10-25"]),
        ("0 1 * * *", "America/New_York", "2026-01-01T00:00", ["2026-11-01"]),
        ("15 2 * * *", "Australia/Lord_Howe", "2026-01-01T00:00", ["2026-10-04"]),
        ("45 1 * * *", "Australia/Lord_Howe", "2026-01-01T00:00", ["2026-04-05"]),
        ("0 0 * * sun", "America/Santiago", "2026-01-01T00:00", ["2026-09-06"]),
        ("30 2 * * mon", "Europe/Berlin", "2026-01-01T00:00", []),  # transitions are Sundays
        ("0 12 * * *", "Europe/Berlin", "2026-01-01T00:00", []),
        ("*/15 * * * *", "Europe/Berlin", "2026-01-01T00:00", []),  # interval jobs: no DST lint
        ("30 2 * * *", "UTC", "2026-01-01T00:00", []),
        ("@every 1h", "Europe/Berlin", "2026-01-01T00:00", []),
    ],
)
def test_lint_dst_dates(text: str, zone: str, now: str, expected: list[str]) -> None:
    warnings = lint(parse_cron(text), ZoneInfo(zone), at(now))
    assert [w.split(" on ")[1][:10] for w in warnings] == expected
