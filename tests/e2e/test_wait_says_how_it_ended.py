"""`enqueue --wait` and `wait` against a real daemon: a job that does not succeed is
reported on one stderr line saying how it ended (the exit code alone says too little)."""

from __future__ import annotations

import pytest

from tests.support.cli import Jobctl

pytestmark = pytest.mark.slow


def _ended(jc: Jobctl, *args: str) -> tuple[int, str]:
    res = jc.run("enqueue", "--wait", *args)
    lines = res.err.splitlines()
    assert len(lines) == 1, res
    return res.rc, lines[0]


def test_a_job_that_does_not_succeed_says_how_it_ended(jc: Jobctl) -> None:
    # Given a running daemon
    jc.start_daemon()
    # When jobs end dead (exit code, signal, timeout, spawn) or cancelled, waited for
    rc, line = _ended(jc, "--max-attempts", "2", "--backoff-base", "0", "--", "sh", "-c", "exit 3")
    # Then one stderr line each says which job, how it ended, after how many attempts
    assert rc == 3 and line.endswith("dead after 2 attempts: exit 3"), line
    rc, line = _ended(jc, "--max-attempts", "1", "--", "sh", "-c", "kill -KILL $$")
    assert rc == 137 and "dead after 1 attempt: killed by signal 9 (SIGKILL)" in line, line
    rc, line = _ended(jc, "--max-attempts", "1", "--timeout", "500ms", "--", "sleep", "30")
    assert rc == 1 and "dead after 1 attempt: timed out" in line, line
    rc, line = _ended(jc, "--", "no-such-command-here")
    assert rc == 1 and "dead after 1 attempt: command not found" in line, line
    dead = jc.json("list", "--state", "dead")[0]["id"]
    rc, line = _ended(jc, "--after", str(dead), "--", "true")
    assert rc == 1 and " cancelled: " in line, line
    # And `wait` of a dead job says the same; a success says nothing
    res = jc.run("wait", str(dead))
    assert res.rc == 1 and res.err.startswith(f"jobctl: job {dead} dead after"), res
    assert jc.run("enqueue", "--wait", "--", "true").err == ""
