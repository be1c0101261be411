"""`schedule import` through to a real daemon: --dry-run writes nothing, every bad line is
reported with its line, an imported `%` command gets its stdin and env, `@reboot` fires at
daemon start."""

from __future__ import annotations

import json
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
@reboot [ -x /no/such/php ] && /no/such/php /var/www/cron.php
"""


def _import(jc: Jobctl, *args: str, cwd: Path | None = None) -> tuple[int, dict, str]:
    res = jc.run("-o", "json", "schedule", "import", *args, cwd=cwd)
    return res.rc, json.loads(res.out), res.err


def test_imported_crontab_runs_with_cron_semantics(jc: Jobctl, tmp_path: Path) -> None:
    crontab = tmp_path / "alice.crontab"
    crontab.write_text(CRONTAB)
    rc, dry, err = _import(jc, str(crontab), "--dry-run")
    assert dry["dry_run"] is True and jc.json("schedule", "list") == [], "dry run writes nothing"
    assert [(r["line"], "61" in r["reason"]) for r in dry["rejected"]] == [(8, True)], dry
    # A line not imported: exit 1, and the line listed on stderr
    assert rc == 1 and f"not imported {crontab}:8: invalid cron '61 * * * *'" in err, err

    rc, done, _ = _import(jc, str(crontab), "--no-shadow")
    weekday, reboot, guarded = done["created"]
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
    runs = wait_until(
        lambda: (
            (by := {j["schedule"]: j for j in jc.json("list")}).keys()
            >= {reboot["name"], guarded["name"]}
            and by
        ),
        15,
        what="the @reboot runs",
    )
    jc.wait_state(runs[reboot["name"]]["id"], "succeeded")
    assert jc.ok("logs", str(runs[reboot["name"]]["id"])) == "booted\n"
    # The guard idiom with its tool missing is a no-op, as under cron: no failure, no DLQ
    jc.wait_state(runs[guarded["name"]]["id"], "succeeded")
    assert jc.json("dlq", "list") == []


def test_reimport_creates_only_what_is_new_and_sources_are_absolute(
    jc: Jobctl, tmp_path: Path
) -> None:
    # Given a crontab imported by a relative path and promoted
    (tmp_path / "etc").mkdir()
    crontab = tmp_path / "etc" / "crontab"
    crontab.write_text("@daily /usr/bin/true --first\n")
    rc, first, _ = _import(jc, "crontab", cwd=tmp_path / "etc")
    (created,) = first["created"]
    assert rc == 0 and created["source"] == f"{crontab}:1"
    jc.ok("schedule", "promote", created["name"])
    # When lines are added above it and it is imported again
    crontab.write_text("# header\n@hourly /usr/bin/true --second\n@daily /usr/bin/true --first\n")
    rc, again, _ = _import(jc, str(crontab))
    # Then only the new line is created and the old one is reported as existing
    assert rc == 0 and [c["source"] for c in again["created"]] == [f"{crontab}:2"]
    assert again["existing"] == [
        {"name": created["name"], "source": f"{crontab}:3", "changed": False}
    ]
    assert len(jc.json("schedule", "list")) == 2
    # The double-dispatch warning finds the moved line from any directory
    health = jc.run("health", cwd=tmp_path.parent)
    assert f"is active and its line {crontab}:3 is still in the crontab" in health.out, health
    # A file that cannot be read is exit 2
    assert jc.run("schedule", "import", str(tmp_path / "missing")).rc == 2


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
