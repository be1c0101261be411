"""`schedule import` planned against a real store: who each schedule runs as (a system
crontab's user column, `--user`), a system crontab read as a user's is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobctl.errors import InvalidInput
from jobctl.ops.crontab_import import apply_import, plan_import
from jobctl.store import Store
from tests.support.clock import ManualClock

CRONTABS = Path(__file__).parents[1] / "domain" / "crontabs"
USERS = {"root", "postgres", "alice"}.__contains__


def test_a_system_crontab_keeps_each_lines_user(store: Store, clock: ManualClock) -> None:
    # Given Debian's /etc/crontab and a cron.d file with a postgres line, imported --system
    text = (CRONTABS / "cron.d-ops").read_text()
    plan = plan_import(store, text, "/etc/cron.d/ops", system=True, is_user=USERS)
    apply_import(store, plan, clock.now())
    # Then each schedule runs as its line's user
    users = {s.command[-1].split()[0]: s.user for s in store.schedules.list() if s.command}
    assert users["/usr/local/bin/pg-warmup"] == "postgres"
    assert {s.user for s in store.schedules.list()} == {"root", "postgres"}


def test_a_line_whose_user_this_host_lacks_is_not_imported(store: Store) -> None:
    text = "@daily  postgres  /usr/local/bin/vacuum\n@daily root /bin/true\n"
    plan = plan_import(store, text, "/etc/crontab", system=True, is_user={"root"}.__contains__)
    assert [s.user for s in plan.create] == ["root"]
    (rejected,) = plan.rejected
    assert (rejected.line, rejected.reason) == (
        1,
        "unknown user 'postgres': no such user on this host",
    )


def test_a_user_crontab_runs_as_the_user_given(store: Store) -> None:
    text = (CRONTABS / "alice.crontab").read_text()
    plan = plan_import(store, text, "alice.crontab", user="alice", is_user=USERS)
    assert plan.create and {s.user for s in plan.create} == {"alice"}
    assert {s.user for s in plan_import(store, text, "a", is_user=USERS).create} == {None}


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
        plan_import(store, "@daily true\n", "t", is_user=USERS, **options)


def test_a_system_crontab_read_as_a_users_is_refused_with_the_hint(store: Store) -> None:
    text = (CRONTABS / "debian-etc-crontab").read_text()
    with pytest.raises(InvalidInput) as caught:
        plan_import(store, text, "/etc/crontab", is_user=USERS)
    assert str(caught.value) == (
        "/etc/crontab looks like a system crontab (line 18 has the user column 'root'):"
        " import it with --system"
    )
    assert store.schedules.list() == []
