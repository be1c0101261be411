"""`schedule import` planned against a real store: who each schedule runs as (a system
crontab's user column, `--user`), a system crontab read as a user's is refused."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from jobctl.errors import InvalidInput
from jobctl.ops.crontab_import import SANDBOX_NOTE, apply_import, plan_import, still_in_crontab
from jobctl.store import Store
from tests.support.clock import ManualClock

CRONTABS = Path(__file__).parents[1] / "domain" / "crontabs"
USERS = {"root", "postgres", "alice"}.__contains__
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_a_system_crontab_keeps_each_lines_user(store: Store, clock: ManualClock) -> None:
    # Given Debian's /etc/crontab and a cron.d file with a postgres line, imported --system
    text = (CRONTABS / "cron.d-ops").read_text()
    plan = plan_import(store, text, "/etc/cron.d/ops", clock.now(), system=True, is_user=USERS)
    apply_import(store, plan, clock.now())
    # Then each schedule runs as its line's user
    users = {s.command[-1].split()[0]: s.user for s in store.schedules.list() if s.command}
    assert users["/usr/local/bin/pg-warmup"] == "postgres"
    assert {s.user for s in store.schedules.list()} == {"root", "postgres"}


def test_a_line_whose_user_this_host_lacks_is_not_imported(store: Store) -> None:
    text = "@daily  postgres  /usr/local/bin/vacuum\n@daily root /bin/true\n"
    plan = plan_import(store, text, "/etc/crontab", NOW, system=True, is_user={"root"}.__contains__)
    assert [s.user for s in plan.create] == ["root"]
    (rejected,) = plan.rejected
    assert (rejected.line, rejected.reason) == (
        1,
        "unknown user 'postgres': no such user on this host",
    )


def test_a_user_crontab_runs_as_the_user_given(store: Store) -> None:
    text = (CRONTABS / "alice.crontab").read_text()
    plan = plan_import(store, text, "alice.crontab", NOW, user="alice", is_user=USERS)
    assert plan.create and {s.user for s in plan.create} == {"alice"}
    assert {s.user for s in plan_import(store, text, "a", NOW, is_user=USERS).create} == {None}


@pytest.mark.parametrize(
    "options,message",
    [
        ({"user": "mallory"}, "unknown user 'mallory'"),
        ({"user": "alice", "system": True}, "--user does not go with --system"),
    ],
)
def test_options_that_do_not_fit_are_invalid_input(
    store: Store, options: dict, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        plan_import(store, "@daily true\n", "t", NOW, is_user=USERS, **options)


def test_a_system_crontab_read_as_a_users_is_refused_with_the_hint(store: Store) -> None:
    text = (CRONTABS / "debian-etc-crontab").read_text()
    with pytest.raises(InvalidInput) as caught:
        plan_import(store, text, "/etc/crontab", NOW, is_user=USERS)
    assert str(caught.value) == (
        "/etc/crontab looks like a system crontab (line 18 has the user column 'root'):"
        " import it with --system"
    )
    assert store.schedules.list() == []


def test_a_changed_line_is_reported_as_existing_and_changed(store: Store) -> None:
    text = "CRON_TZ=UTC\n0 5 * * * /usr/bin/report\n"
    apply_import(store, plan_import(store, text, "t", NOW, is_user=USERS), NOW)
    plan = plan_import(store, text.replace("UTC", "Asia/Tokyo"), "t", NOW, is_user=USERS)
    assert plan.create == [] and [e.changed for e in plan.existing] == [True]


def test_imported_schedules_get_the_dst_lint(store: Store) -> None:
    text = "CRON_TZ=Europe/Berlin\n30 2 * * * /usr/bin/report\n0 0 30 2 * /usr/bin/never\n"
    warnings = plan_import(store, text, "t", NOW, is_user=USERS).warnings
    assert len(warnings) == 3, warnings
    assert "falls in the DST gap of Europe/Berlin on 2026-03-29" in warnings[0]
    assert "falls in the DST repeat of Europe/Berlin on 2026-10-25" in warnings[1]
    assert "never fires: day-of-month 30 does not exist in month 2" in warnings[2]


def test_the_double_dispatch_check_follows_the_line_not_its_number(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a crontab imported by a relative path and promoted
    monkeypatch.chdir(tmp_path)
    crontab = tmp_path / "crontab"
    crontab.write_text("@daily /usr/bin/backup\n")
    apply_import(store, plan_import(store, "@daily /usr/bin/backup\n", "crontab", NOW), NOW)
    (schedule,) = store.schedules.list()
    store.schedules.update(schedule.name, NOW, shadow=0)
    # When the line moves and the check runs elsewhere, it is still found
    crontab.write_text("MAILTO=''\n@hourly /usr/bin/other\n@daily /usr/bin/backup\n")
    monkeypatch.chdir("/")
    (warning,) = still_in_crontab(store)
    assert f"its line {crontab}:3 is still in the crontab" in warning
    # When it is commented out, cron no longer runs it: no warning
    crontab.write_text("#@daily /usr/bin/backup\n")
    assert still_in_crontab(store) == []


def test_the_import_notes_the_cron_compatible_systemd_drop_in(store: Store) -> None:
    plan = plan_import(store, "@daily /usr/sbin/logrotate /etc/logrotate.conf\n", "t", NOW)
    assert SANDBOX_NOTE in plan.notes and "cron-compat.conf" in SANDBOX_NOTE
    apply_import(store, plan, NOW)
    assert (
        SANDBOX_NOTE
        not in plan_import(
            store, "@daily /usr/sbin/logrotate /etc/logrotate.conf\n", "t", NOW
        ).notes
    ), "nothing new, no note"
