"""Control characters in user-supplied text never reach the operator's terminal raw: every
human output escapes them (one rendering layer), JSON stays exact."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from jobctl.domain.failure import Decision
from jobctl.domain.job import FailureClass, State
from jobctl.store import open_store
from jobctl.store.repos.dispatch import Finish
from tests.support.cli import Jobctl
from tests.support.clock import ManualClock
from tests.support.factories import claim, job_spec
from tests.support.inproc import InProcess
from tests.support.tty import drain

# An OSC title change, a colour, a forged line, an 8-bit CSI and a bidi override.
EVIL = "\x1b]0;owned\x07\x1b[31mred\nFAKE ROW\x9b2J\u202e"
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]")  # anything but the line breaks


def _assert_safe(text: str) -> None:
    """No raw control character; no line forged (an output tail keeps the job's own lines)."""
    assert not RAW.search(text), f"raw control character in {text!r}"
    fields = text.split("--- output tail ---")[0]
    assert not any(line.startswith("FAKE ROW") for line in fields.splitlines()), "a forged line"


def _evil_job(cli: InProcess) -> int:
    payload = json.dumps({"note": EVIL})
    return cli.enqueue("--name", EVIL, "--key", EVIL, "--payload", payload, "--", "echo", EVIL)


def _dead_job(db: Path) -> int:
    """A job that died with control characters in its error and output tail."""
    store, clock = open_store(str(db)), ManualClock()
    try:
        store.jobs.enqueue([job_spec(["echo", EVIL], name=EVIL, payload={"x": EVIL})], clock.now())
        (job,) = store.dispatch.claim(claim(), clock.now())
        dead = Decision(State.DEAD, FailureClass.EXIT, to_dlq=True)
        finish = Finish(job.id, job.attempts, "node-a:1:x", dead, 3, None, EVIL, 0.5, None, None,
                        f"{EVIL}\nlast line\n")  # fmt: skip
        store.dispatch.finish([finish], clock.now())
        return job.id
    finally:
        store.close()


@pytest.mark.parametrize(
    "args",
    [["list"], ["show", "1"], ["status", "1"], ["status"], ["explain", "1"], ["top"]],
)
def test_a_jobs_control_characters_are_escaped_in_human_output(
    cli: InProcess, args: list[str]
) -> None:
    # Given a job whose name, key, payload and command carry terminal escapes and a newline
    _evil_job(cli)
    # When a human view of it is printed
    out = cli.ok(*args)
    # Then no control character is raw, no line is forged, and the name is shown escaped
    _assert_safe(out)
    if args[0] in ("list", "show") or args == ["status", "1"]:
        assert "\\x1b]0;owned\\x07\\x1b[31mred\\nFAKE ROW\\x9b2J\\u202e" in out


def test_show_prints_the_payload_as_json_and_the_command_as_a_shell_line(cli: InProcess) -> None:
    _evil_job(cli)
    out = cli.ok("show", "1")
    _assert_safe(out)
    assert re.search(r'\npayload +\{"note": "\\u001b\]0;owned', out), out
    assert re.search(r"\ncommand +echo '\\x1b\]0;owned", out), out


def test_dlq_show_and_the_output_tail_escape_control_characters(cli: InProcess) -> None:
    _dead_job(cli.db)
    for args in (["show", "1"], ["dlq", "show", "1"], ["dlq", "list"]):
        out = cli.ok(*args)
        _assert_safe(out)
    tail = cli.ok("show", "1").split("--- output tail ---\n")[1]
    lines = ["\\x1b]0;owned\\x07\\x1b[31mred", "FAKE ROW\\x9b2J\\u202e", "last line"]
    assert tail.splitlines() == lines, "the job's own lines, each escaped"


def test_schedule_views_escape_the_command(cli: InProcess) -> None:
    cli.ok("schedule", "add", "s1", "--cron", "0 3 * * *", "--", "echo", EVIL)
    for args in (["schedule", "show", "s1"], ["schedule", "list"]):
        _assert_safe(cli.ok(*args))


def test_errors_quoting_user_text_escape_it(cli: InProcess) -> None:
    res = cli.run("schedule", "next", f"0 3 * * {EVIL}")
    assert res.rc == 2
    _assert_safe(res.err)
    assert len(res.err.splitlines()) == 1


def test_json_output_is_exact_and_carries_no_raw_control_character(cli: InProcess) -> None:
    # Given the same job
    _evil_job(cli)
    # When it is printed as JSON
    out = cli.ok("-o", "json", "show", "1")
    # Then the text has only JSON escapes, and decodes to exactly what was enqueued
    _assert_safe(out)
    job = json.loads(out)
    assert job["name"] == EVIL and job["command"] == ["echo", EVIL]
    assert job["payload"] == {"note": EVIL} and job["key"] == EVIL


def test_a_table_on_a_terminal_escapes_control_characters(tmp_path: Path) -> None:
    # Given a job with terminal escapes in its name, listed on a real terminal (rich tables)
    jc = Jobctl(tmp_path)
    jc.enqueue("--name", "[bold]x[/bold]" + EVIL, "--", "true")
    env = {k: v for k, v in jc.env.items() if k != "NO_COLOR"}
    master, slave = os.openpty()
    try:  # a small table: it fits in the terminal's buffer, read once jobctl is done
        done = subprocess.run(
            [*jc.argv0, "list"], stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
            env={**env, "TERM": "xterm-256color", "COLUMNS": "200"}, cwd=tmp_path, timeout=120,
        )  # fmt: skip
        seen = drain(master)
    finally:
        os.close(master)
        os.close(slave)
    assert done.returncode == 0, seen
    text = seen.decode()
    # Then our own styling may be there, but nothing of the name reaches the terminal raw
    assert "\x1b]0;owned" not in text and "\x07" not in text and "\x9b" not in text
    assert "\\x1b]0;owned\\x07\\x1b[31mred" in text
    assert "[bold]x[/bold]" in text, "user text is not read as rich markup"
    assert not any(line.lstrip().startswith("FAKE ROW") for line in text.splitlines())
