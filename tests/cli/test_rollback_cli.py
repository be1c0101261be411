"""The way back to cron, in-process: `schedule export` writes a crontab that `schedule
import` reads back as the same schedules; `schedule demote` returns schedules to shadow
(guard rail for several, audited); what cron cannot express is a comment and exit 1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.inproc import InProcess

CRONTAB = """\
MAILTO=ops@example.com
PATH=/usr/local/bin:/usr/bin:/bin
CRON_TZ=Europe/Berlin
30 2 * * * root /usr/local/bin/report --daily > /tmp/r.log 2>&1
*/15 * * * * nobody [ -x /usr/bin/php ] && php /srv/app/cron.php
0 4 * * 1 root mail -s "weekly \\%d" ops%line one%line two
SHELL=/bin/bash
CRON_TZ=America/New_York
@daily nobody echo "$HOME"
"""


@pytest.fixture(autouse=True)
def _root(monkeypatch: pytest.MonkeyPatch) -> None:
    """The exporting user (the default user column) is root."""
    monkeypatch.setenv("USER", "root")
    monkeypatch.delenv("SUDO_USER", raising=False)


def _schedules(cli: InProcess) -> dict[str, dict[str, Any]]:
    keys = ("cron", "tz", "user", "enabled")
    return {s["name"]: {k: s[k] for k in keys} for s in cli.json("schedule", "list")}


def _imported(cli: InProcess, tmp_path: Path) -> list[str]:
    (tmp_path / "crontab").write_text(CRONTAB)
    cli.ok("schedule", "import", "--system", str(tmp_path / "crontab"))
    return sorted(_schedules(cli))


def test_export_then_import_gives_back_the_same_schedules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given imported schedules, promoted, and one made with `schedule add`
    cli = InProcess(tmp_path, capsys)
    for name in _imported(cli, tmp_path):
        cli.ok("schedule", "promote", name)
    cli.ok("schedule", "add", "plain", "--cron", "0 5 * * *", "--tz", "UTC", "--", "backup", "a b")
    # When they are exported for /etc/cron.d, and that file imported into another DB
    exported = cli.ok("schedule", "export", "--system")
    (tmp_path / "jobctl-rollback").write_text(exported)
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    other = InProcess(other_dir, capsys)
    other.ok("schedule", "import", "--system", "--no-shadow", str(tmp_path / "jobctl-rollback"))
    # Then the same names, schedules, zones and users come back (the one without a user:
    # the exporting user's, of the user column), and export the same
    assert _schedules(other) == {
        **_schedules(cli),
        "plain": {**_schedules(cli)["plain"], "user": "root"},
    }
    assert other.ok("schedule", "export", "--system") == exported
    # and the crontab reads as cron's: zones, the user column, % escaped, a comment each
    assert "CRON_TZ=Europe/Berlin" in exported and "CRON_TZ=America/New_York" in exported
    assert '0 4 * * 1 root mail -s "weekly \\%d" ops%line one%line two' in exported
    assert "*/15 * * * * nobody [ -x /usr/bin/php ] && php /srv/app/cron.php" in exported
    assert "# jobctl schedule plain\n0 5 * * * root backup 'a b'" in exported


def test_shadow_schedules_are_not_exported_unless_named(cli: InProcess, tmp_path: Path) -> None:
    names = _imported(cli, tmp_path)  # shadow, as imported
    assert "# jobctl schedule" not in cli.ok("schedule", "export")
    named = cli.ok("schedule", "export", names[0])
    assert f"# jobctl schedule {names[0]} " in named or f"# jobctl schedule {names[0]}\n" in named


def test_a_seconds_schedule_is_a_comment_and_exit_1(cli: InProcess) -> None:
    cli.ok("schedule", "add", "fast", "--cron", "*/10 * * * * *", "--", "true")
    cli.ok("schedule", "add", "slow", "--cron", "0 3 * * *", "--tz", "UTC", "--", "true")
    res = cli.run("schedule", "export")
    assert res.rc == 1, res
    assert "# jobctl: left out fast: cron has no seconds field ('*/10 * * * * *')" in res.out
    assert "0 3 * * * true" in res.out
    assert res.err == "jobctl: not exported fast: cron has no seconds field ('*/10 * * * * *')\n"
    shown = cli.run("-o", "json", "schedule", "export")
    assert shown.rc == 1 and '"left_out"' in shown.out


def test_export_of_an_unknown_name_or_without_a_db(cli: InProcess) -> None:
    res = cli.run("schedule", "export", "nope")
    assert res.rc == 3 and "no jobctl database" in res.err and not cli.db.exists()
    cli.ok("schedule", "add", "x", "--cron", "@daily", "--", "true")
    missing = cli.run("schedule", "export", "nope")
    assert missing.rc == 3 and "no schedule named 'nope'" in missing.err


def test_demote_imported_after_promote_needs_the_count_and_is_audited(
    cli: InProcess, tmp_path: Path
) -> None:
    # Given imported schedules, two promoted (active), and a CLI-made active one
    names = _imported(cli, tmp_path)
    cli.ok("schedule", "promote", names[0])
    cli.ok("schedule", "promote", names[1])
    cli.ok("schedule", "add", "mine", "--cron", "@daily", "--", "true")
    # When every imported one not pinned to shadow is demoted: refused without the count
    refused = cli.run("schedule", "demote", "--imported")
    assert refused.rc == 4 and "add --confirm 2 to proceed" in refused.err, refused
    before = {**dict.fromkeys(names, True), names[0]: False, names[1]: False, "mine": False}
    assert _shadows(cli) == before
    done = cli.run("schedule", "demote", "--imported", "--confirm", "2")
    # Then they are shadow again (and only they), audited
    assert done.rc == 0 and done.out.split() == names[:2], done
    assert _shadows(cli) == {**dict.fromkeys(names, True), "mine": False}
    audit = [(e["action"], e["outcome"]) for e in cli.json("audit", "--action", "schedule.demote")]
    assert audit == [("schedule.demote", "refused"), ("schedule.demote", "ok")]
    # and again there is nothing left to demote
    again = cli.run("schedule", "demote", "--imported")
    assert again.rc == 0 and "no imported schedule left to demote" in again.err


def _shadows(cli: InProcess) -> dict[str, bool]:
    return {s["name"]: s["shadow"] for s in cli.json("schedule", "list")}


def test_demote_by_name_and_bad_input(cli: InProcess) -> None:
    cli.ok("schedule", "add", "a", "--cron", "@daily", "--", "true")
    cli.ok("schedule", "add", "b", "--cron", "@daily", "--", "true")
    assert cli.ok("schedule", "demote", "a").split() == ["a"]
    assert _shadows(cli) == {"a": True, "b": False}
    assert cli.run("schedule", "demote").rc == 2
    assert cli.run("schedule", "demote", "a", "--imported").rc == 2
    unknown = cli.run("schedule", "demote", "b", "nope", "--confirm", "2")
    assert unknown.rc == 3 and _shadows(cli) == {"a": True, "b": False}
    several = cli.run("schedule", "demote", "a", "b", "--confirm", "2")
    assert several.rc == 0 and _shadows(cli) == {"a": True, "b": True}
