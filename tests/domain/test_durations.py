from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from jobctl.domain.durations import format_duration, iso_z, parse_duration, parse_time
from jobctl.errors import InvalidInput

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text,seconds",
    [
        ("500ms", 0.5),
        ("30s", 30),
        ("5m", 300),
        ("2h", 7200),
        ("1d", 86400),
        ("1h30m", 5400),
        ("10", 10),
        ("2.5", 2.5),
        (" 1m30s ", 90),
        ("1w", 604800),
    ],
)
def test_durations_in_every_documented_form(text: str, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["5x", "", "m5", "1h 30m", "-5s", "h", "1.2.3s", "nan"])
def test_bad_durations_name_the_value(text: str) -> None:
    with pytest.raises(InvalidInput, match="invalid --in"):
        parse_duration(text, "--in")


def test_relative_time_is_from_now() -> None:
    assert parse_time("+5m", NOW) == NOW + timedelta(minutes=5)


def test_iso_time_without_offset_is_local() -> None:
    kolkata = ZoneInfo("Asia/Kolkata")
    assert parse_time("2030-01-01T05:30:00", NOW, kolkata) == datetime(2030, 1, 1, tzinfo=UTC)
    assert parse_time("2030-01-01T02:00:00+02:00", NOW) == datetime(2030, 1, 1, tzinfo=UTC)
    assert parse_time("2030-01-01T00:00:00Z", NOW) == datetime(2030, 1, 1, tzinfo=UTC)


def test_bad_time_names_the_value() -> None:
    with pytest.raises(InvalidInput, match="'yesterday'"):
        parse_time("yesterday", NOW, what="--at")


def test_iso_z_is_utc_with_z() -> None:
    moment = datetime(2030, 1, 1, 5, 30, tzinfo=ZoneInfo("Asia/Kolkata"))
    assert iso_z(moment) == "2030-01-01T00:00:00Z"
    assert iso_z(moment + timedelta(milliseconds=250)) == "2030-01-01T00:00:00.250Z"
    assert iso_z(None) is None


@pytest.mark.parametrize(
    "seconds,text",
    [
        (0.25, "250ms"),
        (12.34, "12.3s"),
        (245, "4m05s"),
        (7800, "2h10m"),
        (273600, "3d04h"),
        (None, "-"),
    ],
)
def test_format_duration(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text
