"""`schedule import` through to a real daemon: --dry-run writes nothing, every bad line is
reported with its line, an imported `%` command gets its stdin and env, `@reboot` fires at
daemon start."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.cli import Jobctl
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

CRONTAB = r"""# m h dom mon dow command
MAILTO=ops@example.com
GREETING = "hello"
CRON_TZ=America/New_York
0 9 * * mon-fri printf '\%s|' "$GREETING"; cat%line one%50\% off
CRON_TZ=
@reboot echo booted
61 * * * * too-late.sh
"""


def test_imported_crontab_runs_with_cron_semantics(jc: Jobctl, tmp_path: Path) -> None:
    crontab = tmp_path / "alice.crontab"
    crontab.write_text(CRONTAB)
    dry = jc.json("schedule", "import", str(crontab), "--dry-run")
    assert dry["dry_run"] is True and jc.json("schedule", "list") == [], "dry run writes nothing"
    assert [(r["line"], "61" in r["reason"]) for r in dry["rejected"]] == [(8, True)], dry

    done = jc.json("schedule", "import", str(crontab), "--no-shadow")
    weekday, reboot = done["created"]
    assert (weekday["cron"], weekday["tz"], weekday["source"]) == (
        "0 9 * * mon-fri",
        "America/New_York",
        f"{crontab}:5",
    )
    assert (reboot["cron"], reboot["source"]) == ("@reboot", f"{crontab}:7")
    assert any("ops@example.com" in note for note in done["notes"]), done["notes"]

    job_id = jc.ok("schedule", "run", weekday["name"]).strip()
    jc.start_daemon()
    jc.wait_state(int(job_id), "succeeded")
    assert jc.ok("logs", job_id).startswith("hello|line one\n50% off"), "env, \\% and % stdin"
    booted = wait_until(
        lambda: [j for j in jc.json("list") if j["schedule"] == reboot["name"]],
        15,
        what="the @reboot run",
    )
    assert len(booted) == 1
    jc.wait_state(booted[0]["id"], "succeeded")
    assert jc.ok("logs", str(booted[0]["id"])) == "booted\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="running a job as another user needs root")
def test_a_system_crontabs_user_column_is_who_the_job_runs_as(jc: Jobctl, tmp_path: Path) -> None:
    crontab = tmp_path / "crontab"
    crontab.write_text("SHELL=/bin/sh\n@reboot  nobody  id -un\n")
    # Read as a user crontab it is refused: `nobody` would have become the command
    refused = jc.run("schedule", "import", str(crontab))
    assert refused.rc == 2 and "import it with --system" in refused.err, refused
    assert jc.json("schedule", "list") == []
    # Imported --system, the line keeps its user, also once promoted
    (created,) = jc.json("schedule", "import", str(crontab), "--system")["created"]
    assert created["user"] == "nobody"
    jc.ok("schedule", "promote", created["name"])
    assert jc.json("schedule", "show", created["name"])["user"] == "nobody"
    jc.start_daemon()
    (run,) = wait_until(
        lambda: [j for j in jc.json("list") if j["schedule"] == created["name"]], 15, what="run"
    )
    jc.wait_state(run["id"], "succeeded")
    assert jc.ok("logs", str(run["id"])) == "nobody\n"
