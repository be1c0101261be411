"""`jobctl sweep` as a real subprocess: exit codes, audit, progress lines, and kill -9 in
the middle of a run followed by a resume that deletes exactly the rest."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import Jobctl
from tests.support.targets import fill_t, make_target
from tests.support.waiting import wait_until


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    db = make_target(request.param, tmp_path)
    fill_t(db, 1000)
    yield db
    db.close()


def _mark(jc: Jobctl, target: Any, where: str, *extra: str) -> dict[str, Any]:
    return jc.json("sweep", "mark", "--target", target.url, "--table", "t", "--where", where,
                   *extra)  # fmt: skip


@pytest.mark.slow
def test_kill_9_during_a_run_then_resume_deletes_exactly_the_rest(jc: Jobctl, target: Any):
    # Given the 500 even rows marked, and a slow run in progress
    s = _mark(jc, target, "v % 2 = 0", "--name", "evens", "--grace", "0")
    argv = [*jc.argv0, "sweep", "run", str(s["id"]), "--confirm", "evens",
            "--batch", "5", "--pause", "20ms"]  # fmt: skip
    proc = subprocess.Popen(argv, env=jc.env, cwd=jc.tmp, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    try:
        wait_until(
            lambda: target.scalar("SELECT count(*) FROM t") <= 900, 60, 0.02, "a partial run"
        )
    finally:
        # When it is killed with SIGKILL mid-run
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    left = target.scalar("SELECT count(*) FROM t")
    assert 500 < left < 1000, "killed mid-run"
    assert target.scalar("SELECT count(*) FROM t WHERE v % 2 = 1") == 500
    # Then a second run resumes from the target's cursor and finishes exactly
    jc.ok("sweep", "run", str(s["id"]), "--confirm", "evens", "--batch", "100", "--pause", "0")
    shown = jc.json("sweep", "show", str(s["id"]))
    assert (shown["state"], shown["deleted"], shown["skipped"]) == ("done", 500, 0)
    assert target.scalar("SELECT count(*) FROM t") == 500
    assert target.scalar("SELECT count(*) FROM t WHERE v % 2 = 0") == 0


def test_injection_in_table_and_where_exits_2_naming_the_value(jc: Jobctl, target: Any):
    for option, value in (("--table", "t; DROP TABLE t"), ("--where", "1=1; DROP TABLE t")):
        args = {"--table": "t", "--where": "v > 0"} | {option: value}
        res = jc.run(
            "sweep", "mark", "--target", target.url, *[x for kv in args.items() for x in kv]
        )
        assert res.rc == 2, res
        assert value in res.err and len(res.err.strip().splitlines()) == 1, res.err
    assert jc.json("sweep", "list") == []
    assert target.scalar("SELECT count(*) FROM t") == 1000


def test_a_predicate_past_the_statement_timeout_exits_1_and_marks_nothing(jc: Jobctl, target: Any):
    endless = (
        "v IN (WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT n FROM r)"
    )
    argv = ["sweep", "mark", "--target", target.url, "--table", "t", "--where", endless]
    res = jc.run(*argv, "--timeout", "500ms")
    assert res.rc == 1, res
    assert "0.5s statement timeout" in res.err and len(res.err.strip().splitlines()) == 1, res.err
    assert jc.json("sweep", "list") == []
    res = jc.run(*argv, "--timeout", "0s")
    assert res.rc == 2 and "--timeout" in res.err, res
    assert target.scalar("SELECT count(*) FROM t") == 1000


def test_every_sweep_action_is_audited_with_who_and_counts(jc: Jobctl, target: Any):
    s = _mark(jc, target, "v <= 10", "--grace", "0")
    assert jc.run("sweep", "run", str(s["id"])).rc == 4
    res = jc.run("sweep", "run", str(s["id"]), "--confirm", s["name"])
    assert res.rc == 0, res
    assert "deleted 10" in res.out and "rows" in res.err  # a final progress line on stderr
    other = _mark(jc, target, "v > 990", "--name", "top", "--grace", "0")
    jc.ok("sweep", "unmark", str(other["id"]))
    assert target.scalar("SELECT count(*) FROM t") == 990
    entries = json.loads(jc.ok("-o", "json", "audit", "--action", "sweep"))
    seen = [(e["action"], e["target"]) for e in entries]
    assert seen == [("sweep.mark", s["name"]),
                    ("sweep.run", s["name"]), ("sweep.run", s["name"]),
                    ("sweep.mark", "top"), ("sweep.unmark", "top")]  # fmt: skip
    mark_entry, refused, ran = entries[0], entries[1], entries[2]
    assert mark_entry["args"]["marked"] == 10 and mark_entry["actor"]
    assert refused["args"].get("result") is None or refused["args"]["result"]["deleted"] == 0
    assert ran["args"]["result"]["deleted"] == 10 and ran["args"]["marked_by"]
