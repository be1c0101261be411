"""Guard rails (cancel of >1 job, retry of >100, queue purge) on every refusal path, through
the real CLI: no --confirm, a wrong one, a non-TTY stdin, and a real pseudo-terminal where
the user types the target. Every state-changing command lands in the audit log."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import Jobctl
from tests.support.tty import drain
from tests.support.waiting import wait_until


@pytest.fixture
def jc(tmp_path: Path) -> Iterator[Jobctl]:
    yield Jobctl(tmp_path)


def _audit(jc: Jobctl, *args: str) -> list[dict[str, Any]]:
    return jc.json("audit", *args)  # type: ignore[no-any-return]


def _states(jc: Jobctl, ids: list[str]) -> list[str]:
    by_id = {str(j["id"]): j["state"] for j in jc.json("list", "--limit", "1000")}
    return [by_id[i] for i in ids]


def _enqueued(jc: Jobctl, n: int) -> list[str]:
    """n queued `true` jobs, in one bulk enqueue."""
    lines = "\n".join(json.dumps({"command": ["true"]}) for _ in range(n))
    return jc.ok("enqueue", "--from", "-", input=lines.encode()).split()


def _run_on_tty(jc: Jobctl, args: list[str], typed: str) -> tuple[int, str, str]:
    """Run jobctl with stdin and stderr on a pseudo-terminal; type `typed` at the prompt.
    Returns (exit code, stdout, what the terminal showed)."""
    master, slave = os.openpty()
    shown = b""

    def prompted() -> bool:
        nonlocal shown
        shown += drain(master)
        assert proc.poll() is None or b"to confirm: " in shown, f"exited, no prompt: {shown!r}"
        return b"to confirm: " in shown

    try:
        # Popen as a context: its pipe is closed and the process reaped, whatever fails
        with subprocess.Popen(
            [*jc.argv0, *args], stdin=slave, stdout=subprocess.PIPE, stderr=slave, env=jc.env,
            cwd=jc.tmp,
        ) as proc:  # fmt: skip
            try:
                wait_until(prompted, 60, 0.02, "the confirmation prompt")
                os.write(master, typed.encode() + b"\n")
                out, _ = proc.communicate(timeout=60)
            finally:
                if proc.poll() is None:
                    proc.kill()
        shown += drain(master)  # it exited: all it wrote is in the terminal
    finally:
        os.close(master)
        os.close(slave)
    return proc.returncode, out.decode(), shown.decode(errors="replace")


def test_cancel_of_several_jobs_refuses_every_unconfirmed_way(jc: Jobctl) -> None:
    ids = _enqueued(jc, 3)
    assert jc.run("cancel", *ids).rc == 4
    wrong = jc.run("cancel", *ids, "--confirm", "2")
    assert wrong.rc == 4 and "'2' does not match '3'" in wrong.err
    piped = jc.run("cancel", *ids, input=b"3\n")  # not a TTY: never prompts, never reads
    assert piped.rc == 4 and "--confirm 3" in piped.err
    assert _states(jc, ids) == ["queued"] * 3, "a refused cancel changed nothing"
    refusals = [a for a in _audit(jc, "--action", "job.cancel") if a["outcome"] == "refused"]
    assert len(refusals) == 3 and all(a["target"] == ",".join(ids) for a in refusals)


def test_cancel_on_a_terminal_proceeds_only_with_the_typed_count(jc: Jobctl) -> None:
    ids = _enqueued(jc, 2)
    rc, _out, shown = _run_on_tty(jc, ["cancel", *ids], "3")
    assert rc == 4 and "type '2' to confirm" in shown
    assert _states(jc, ids) == ["queued"] * 2
    rc, out, shown = _run_on_tty(jc, ["cancel", *ids], "2")
    assert rc == 0, shown
    assert _states(jc, ids) == ["cancelled"] * 2
    assert f"{ids[0]} cancelled" in out
    entries = _audit(jc, "--action", "job.cancel")
    assert [e["outcome"] for e in entries] == ["refused", "ok"]
    assert f"request id {entries[-1]['request_id']}" in shown


def test_cancel_of_one_job_needs_no_confirm(jc: Jobctl) -> None:
    job = str(jc.enqueue("--", "true"))
    jc.ok("cancel", job)
    assert [(a["target"], a["outcome"]) for a in _audit(jc, "--action", "job.cancel")] == [
        (job, "ok")
    ]


def _cancelled_jobs(jc: Jobctl, n: int) -> list[int]:
    ids = [int(i) for i in _enqueued(jc, n)]
    jc.ok("cancel", *map(str, ids), "--confirm", str(n))
    return ids


@pytest.mark.slow
def test_retry_of_more_than_100_jobs_needs_the_count(jc: Jobctl) -> None:
    ids = _cancelled_jobs(jc, 101)
    args = ["retry", *map(str, ids)]
    assert jc.run(*args).rc == 4
    assert jc.run(*args, "--confirm", "100").rc == 4
    assert jc.run(*args, input=b"101\n").rc == 4
    assert set(_states(jc, [str(i) for i in ids])) == {"cancelled"}
    rc, _out, shown = _run_on_tty(jc, args, "101")
    assert rc == 0, shown
    assert set(_states(jc, [str(i) for i in ids])) == {"queued"}
    entries = _audit(jc, "--action", "job.retry")
    assert [e["outcome"] for e in entries] == ["refused"] * 3 + ["ok"]
    assert entries[-1]["target"] == f"{ids[0]}..{ids[-1]} (101 jobs)"


def test_retry_of_up_to_100_jobs_is_not_guarded_and_is_audited(jc: Jobctl) -> None:
    ids = _cancelled_jobs(jc, 2)
    jc.ok("retry", *map(str, ids))
    (entry,) = _audit(jc, "--action", "job.retry")
    assert entry["outcome"] == "ok" and entry["args"]["ids"] == ids


def test_purge_refuses_every_unconfirmed_way_and_a_wrong_typed_name(jc: Jobctl) -> None:
    job = jc.enqueue("--", "true")
    assert jc.run("queue", "purge", "default").rc == 4
    assert jc.run("queue", "purge", "default", "--confirm", "bulk").rc == 4
    assert jc.run("queue", "purge", "default", input=b"default\n").rc == 4
    rc, _, shown = _run_on_tty(jc, ["queue", "purge", "default"], "defaul")
    assert rc == 4 and "does not match" in shown
    assert jc.show(job)["state"] == "queued"
    rc, out, shown = _run_on_tty(jc, ["queue", "purge", "default"], "default")
    assert rc == 0 and "purged 1 job(s)" in out, shown
    outcomes = [a["outcome"] for a in _audit(jc, "--action", "queue.purge")]
    assert outcomes == ["refused"] * 4 + ["ok"]


@pytest.mark.slow
def test_every_state_changing_command_is_audited(jc: Jobctl, tmp_path: Path) -> None:
    jc.env["JOBCTL_CONFIG"] = str(tmp_path / "config.yaml")  # as root, init writes /etc
    jc.ok("init")
    job = jc.enqueue("--env", "DB_PASSWORD=hunter2", "--env", "MODE=fast", "--", "true")
    jc.ok("queue", "pause", "default")
    jc.ok("queue", "resume", "default")
    jc.ok("schedule", "add", "nightly", "--cron", "0 3 * * *", "--", "true")
    for verb in ("pause", "resume", "run", "promote"):
        jc.ok("schedule", verb, "nightly")
    jc.ok("schedule", "rm", "nightly")
    crontab = tmp_path / "crontab"
    crontab.write_text("*/5 * * * * echo hi\n")
    jc.ok("schedule", "import", str(crontab), "--dry-run")  # changes nothing: not audited
    jc.ok("schedule", "import", str(crontab))
    entries = _audit(jc)
    actions = [e["action"] for e in entries]
    assert actions == [
        "init",
        "job.enqueue",
        "queue.pause",
        "queue.resume",
        "schedule.add",
        "schedule.pause",
        "schedule.resume",
        "schedule.run",
        "schedule.promote",
        "schedule.rm",
        "schedule.import",
    ]
    enqueue = entries[1]
    assert enqueue["target"] == str(job)
    assert enqueue["args"]["env"] == {"DB_PASSWORD": "[redacted]", "MODE": "fast"}
    assert "hunter2" not in json.dumps(entries)
    assert jc.show(job)["request_id"] == enqueue["request_id"]
    assert len({e["request_id"] for e in entries}) == len(entries), "one id per invocation"
    assert len(entries[-1]["args"]["created"]) == 1
    assert next(e["action"] for e in _audit(jc, "--action", "schedule")) == "schedule.add"
    assert [e["action"] for e in _audit(jc, "--action", "queue.*")] == [
        "queue.pause",
        "queue.resume",
    ]


def test_a_rejected_enqueue_is_audited_as_failed(jc: Jobctl) -> None:
    (jc.tmp / "etc").mkdir()
    config = jc.tmp / "etc" / "config.yaml"
    config.write_text("queues:\n  - name: bulk\n    max_depth: 1\n    shed: reject\n")
    jc.env["JOBCTL_CONFIG"] = str(config)
    jc.enqueue("-Q", "bulk", "--", "true")
    full = jc.run("enqueue", "-Q", "bulk", "--", "true")
    assert full.rc == 75 and "depth 1 at or over max_depth 1" in full.err
    assert [a["outcome"] for a in _audit(jc, "--action", "job.enqueue")] == ["ok", "failed"]


def test_audit_table_is_readable(jc: Jobctl) -> None:
    jc.enqueue("--", "true")
    jc.run("queue", "purge", "default")
    table = jc.ok("audit")
    header, *rows = table.splitlines()
    for column in ("actor", "request", "action", "target", "outcome"):
        assert column in header.lower()
    assert "job.enqueue" in rows[0] and "queue.purge" in rows[1] and "refused" in rows[1]
