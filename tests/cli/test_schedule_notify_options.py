"""`schedule add --owner --severity --ping --max-runtime --min-runtime --deadline
--pause-after`: stored and shown; a bad value is exit 2 naming it, with nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import run_main


@pytest.fixture(autouse=True)
def _db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = tmp_path / "jobctl.db"
    monkeypatch.setenv("JOBCTL_DB", str(db))
    return db


def test_the_notification_options_are_stored_and_shown() -> None:
    res = run_main(
        "schedule", "add", "nightly", "--cron", "30 2 * * *", "--tz", "UTC",
        "--owner", "billing", "--severity", "page", "--ping", "https://hc.example.com/ping/u",
        "--max-runtime", "2h", "--min-runtime", "30s", "--deadline", "06:00",
        "--pause-after", "5", "--", "/usr/local/bin/report",
    )  # fmt: skip
    assert res.rc == 0, res
    shown = json.loads(run_main("-o", "json", "schedule", "show", "nightly").out)
    assert {k: shown[k] for k in ("owner", "severity", "max_runtime", "min_runtime",
                                  "deadline", "pause_after", "paused_reason")} == {
        "owner": "billing", "severity": "page", "max_runtime": 7200.0, "min_runtime": 30.0,
        "deadline": "06:00", "pause_after": 5, "paused_reason": None,
    }  # fmt: skip
    (entry,) = json.loads(run_main("-o", "json", "audit").out)
    assert entry["args"]["ping"] == "***" and entry["args"]["owner"] == "billing"


@pytest.mark.parametrize(
    "option,value,message",
    [
        ("--deadline", "6am", "invalid deadline '6am'"),
        ("--deadline", "24:00", "invalid deadline '24:00'"),
        ("--max-runtime", "soon", "soon"),
        ("--ping", "ftp://x", "invalid ping 'ftp://x'"),
        ("--owner", "two words", "invalid owner 'two words'"),
        ("--pause-after", "0", "invalid pause_after 0"),
    ],
)
def test_a_bad_value_is_exit_2_naming_it_and_nothing_is_written(
    _db: Path, option: str, value: str, message: str
) -> None:
    res = run_main("schedule", "add", "s", "--cron", "@daily", option, value, "--", "true")
    assert res.rc == 2 and message in res.err and res.err.count("\n") == 1, res
    assert not _db.exists() or "s" not in run_main("schedule", "list").out.split()
