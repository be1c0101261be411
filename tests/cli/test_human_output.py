"""Human output renders values for humans in one place (render.value): no Python reprs, a
command as its shell line, yes/no, `-` for none, local times; and what each view lists."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from jobctl.domain.failure import Decision
from jobctl.domain.job import FailureClass, State
from jobctl.store import open_store
from jobctl.store.repos.dispatch import Finish
from tests.support.clock import ManualClock
from tests.support.factories import claim, job_spec
from tests.support.inproc import InProcess

# What a Python repr looks like in a line: a list, a bool, None, a datetime, bytes, quotes.
REPR = re.compile(r"\[['\"]|\bTrue\b|\bFalse\b|\bNone\b|datetime\.|\bb'|=\s*'")


def _no_repr(text: str) -> None:
    found = [line for line in text.splitlines() if REPR.search(line)]
    assert not found, f"Python reprs in human output: {found}"


def _dead_after_two_attempts(db: Path) -> None:
    """Job 1 dies after two attempts (exit 3, then a kill by signal 9), as a daemon records."""
    store, clock = open_store(str(db)), ManualClock()
    try:
        spec = job_spec(["/bin/sh", "-c", "exit 3"], payload={"n": 1})
        store.jobs.enqueue([spec], clock.now())
        for number, (decision, code, sig) in enumerate(
            [
                (Decision(State.RETRYING, FailureClass.EXIT, clock.now()), 3, None),
                (Decision(State.DEAD, FailureClass.SIGNAL, to_dlq=True), None, 9),
            ],
            1,
        ):
            (job,) = store.dispatch.claim(claim(), clock.advance(1))
            assert job.attempts == number
            finish = Finish(job.id, job.attempts, "node-a:1:x", decision, code, sig,
                            "boom", duration=0.25)  # fmt: skip
            store.dispatch.finish([finish], clock.advance(1))
    finally:
        store.close()


def test_schedule_show_has_no_reprs_and_a_paused_shadow_schedule_says_both(
    cli: InProcess,
) -> None:
    # Given a shadow schedule that is also paused
    cli.ok("schedule", "add", "s1", "--cron", "0 3 * * *", "--shadow", "--", "/bin/sh", "-c", "x y")
    cli.ok("schedule", "pause", "s1")
    # When it is shown and listed
    shown = cli.ok("schedule", "show", "s1")
    listed = cli.ok("schedule", "list")
    # Then the command is a shell line, booleans read yes/no, and the state names both
    _no_repr(shown)
    assert re.search(r"^command +/bin/sh -c 'x y'$", shown, re.M), shown
    assert re.search(r"^shadow +yes$", shown, re.M) and re.search(r"^enabled +no$", shown, re.M)
    assert re.search(r"^state +paused, shadow$", shown, re.M), shown
    assert "paused, shadow" in listed.splitlines()[1]
    cli.ok("schedule", "resume", "s1")
    assert re.search(r"^state +shadow$", cli.ok("schedule", "show", "s1"), re.M)
    cli.ok("schedule", "promote", "s1")
    assert re.search(r"^state +active$", cli.ok("schedule", "show", "s1"), re.M)


def test_explain_prints_facts_for_humans(cli: InProcess) -> None:
    cli.enqueue("--at", "2099-01-01T00:00:00Z", "--", "true")
    out = cli.ok("explain", "1")
    _no_repr(out)
    assert re.search(r"^run_at +2099-01-01 \d\d:\d\d:\d\d$", out, re.M), out
    assert cli.json("explain", "1")["facts"]["run_at"] == "2099-01-01T00:00:00Z"


def test_dlq_show_lists_the_dead_jobs_attempts(cli: InProcess) -> None:
    # Given a job that died after two attempts
    _dead_after_two_attempts(cli.db)
    # When its DLQ entry is shown
    out = cli.ok("dlq", "show", "1")
    # Then its attempts are listed as in `show` (exit code, signal, class), without reprs
    _no_repr(out)
    header, first, second = out.split("\n\n")[1].splitlines()
    assert header.split()[:3] == ["ATTEMPT", "NODE", "STARTED"]
    assert first.split()[0] == "1" and " 3 " in first and "exit" in first
    assert second.split()[0] == "2" and " 9 " in second and "signal" in second
    assert re.search(r'^payload +\{"n": 1\}$', out, re.M), out
    shape = cli.json("dlq", "show", "1")
    assert [(a["attempt"], a["exit_code"], a["signal"]) for a in shape["attempt_log"]] == [
        (1, 3, None),
        (2, None, 9),
    ]


def test_sweep_mark_dry_run_prints_values_not_reprs(cli: InProcess) -> None:
    target = cli.tmp / "app.db"
    conn = sqlite3.connect(target)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, data BLOB)")
    conn.execute("INSERT INTO t (name, data) VALUES (NULL, x'00ff'), ('a', NULL)")
    conn.commit()
    conn.close()
    out = cli.ok("sweep", "mark", "--target", str(target), "--table", "t", "--where", "id > 0",
                 "--dry-run")  # fmt: skip
    _no_repr(out)
    assert "  id=1, name=-, data=\\x00\\xff" in out and "  id=2, name=a, data=-" in out


@pytest.mark.parametrize("name", ["nightly", "no-such-schedule"])
def test_schedule_next_of_an_unknown_name_is_not_found(cli: InProcess, name: str) -> None:
    res = cli.run("schedule", "next", name)
    assert res.rc == 3, res
    assert f"no schedule named '{name}'" in res.err


@pytest.mark.parametrize("expr", ["@daily", "@every 5m", "0 3 * * *"])
def test_schedule_next_of_an_expression_still_works(cli: InProcess, expr: str) -> None:
    assert len(cli.json("schedule", "next", expr, "-n", "2")) == 2


def test_schedule_next_of_a_bad_expression_is_invalid_input(cli: InProcess) -> None:
    for expr in ("@nightly", "61 * * * *"):
        res = cli.run("schedule", "next", expr)
        assert res.rc == 2 and "invalid cron" in res.err, res
