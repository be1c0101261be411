"""The CLI contract from the outside: exit codes, one-line errors, JSON shapes, streams."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support.cli import Jobctl

JOB_KEYS = {
    "id",
    "name",
    "queue",
    "state",
    "schedule",
    "nominal_at",
    "command",
    "job_type",
    "payload",
    "priority",
    "run_at",
    "created_at",
    "started_at",
    "finished_at",
    "attempts",
    "max_attempts",
    "exit_code",
    "failure_class",
    "key",
    "ordering_key",
    "tenant",
    "depends_on",
    "retry_after",
    "dlq_id",
}


@pytest.fixture
def jc(tmp_path: Path) -> Jobctl:
    return Jobctl(tmp_path)


def _one_line_error(res, rc: int, *needles: str) -> None:  # type: ignore[no-untyped-def]
    lines = [line for line in res.err.splitlines() if line.strip()]
    assert res.rc == rc, res
    assert len(lines) == 1, res.err
    assert res.out == ""
    for needle in needles:
        assert needle in res.err, res.err


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--in", "5x", "--", "true"], "5x"),
        (["--at", "yesterday", "--", "true"], "yesterday"),
        (["--payload", "{nope", "--", "true"], "{nope"),
        (["--after", "77", "--", "true"], "77"),
        (["--"], "empty command"),
        (["--type", "ghost"], "ghost"),
        (["-Q", "nowhere", "--", "true"], "nowhere"),
        (["--priority", "high", "--", "true"], "--priority"),
        (["--backoff", "sometimes", "--", "true"], "sometimes"),
        (["--env", "NOEQUALS", "--", "true"], "NOEQUALS"),
        (["--shell", "--", "echo", "two words"], "--shell"),
    ],
)
def test_bad_enqueue_input_exits_2_and_writes_nothing(
    jc: Jobctl, args: list[str], needle: str
) -> None:
    (jc.tmp / "config.yaml").write_text("queues:\n  - name: default\n  - name: bulk\n")
    jc.env["JOBCTL_CONFIG"] = str(jc.tmp / "config.yaml")
    jc.enqueue("--", "true")
    _one_line_error(jc.run("enqueue", *args), 2, needle)
    assert len(jc.json("list")) == 1


@pytest.mark.parametrize("queue", ["a b", "x" * 65, "\x1b[31mred", "ä"])
def test_a_queue_name_outside_the_rule_exits_2_without_configured_queues(
    jc: Jobctl, queue: str
) -> None:
    res = jc.run("enqueue", "-Q", queue, "--", "true")
    _one_line_error(res, 2, "invalid queue name")
    assert "\x1b" not in res.err
    assert jc.run("list").rc == 3, "nothing written: not even a DB"


def test_bad_config_names_file_and_line(jc: Jobctl) -> None:
    config = jc.tmp / "bad.yaml"
    config.write_text("queues:\n  - name: a\n    concurrency: lots\n")
    jc.env["JOBCTL_CONFIG"] = str(config)
    _one_line_error(jc.run("enqueue", "--", "true"), 2, f"{config}:3")
    res = jc.run("config", "check", str(config))
    assert res.rc == 2 and f"{config}:3" in res.err


def test_config_check_lists_every_problem(jc: Jobctl) -> None:
    config = jc.tmp / "bad.yaml"
    config.write_text("queues:\n  - name: a\n  - name: a\nfoo: 1\n")
    res = jc.run("config", "check", str(config))
    assert res.rc == 2
    assert len([line for line in res.err.splitlines() if line.strip()]) == 2


def test_missing_db_directory_is_created(jc: Jobctl) -> None:
    jc.env["JOBCTL_DB"] = str(jc.tmp / "deep" / "er" / "x.db")
    jc.enqueue("--", "true")
    assert (jc.tmp / "deep" / "er" / "x.db").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere: permissions do not bite")
def test_unwritable_db_path_is_one_line(jc: Jobctl) -> None:
    locked = jc.tmp / "locked"
    locked.mkdir(mode=0o500)
    jc.env["JOBCTL_DB"] = str(locked / "sub" / "x.db")
    _one_line_error(jc.run("enqueue", "--", "true"), 1, str(locked))


def test_db_under_a_plain_file_is_one_line(jc: Jobctl) -> None:
    (jc.tmp / "plain").write_text("x")
    jc.env["JOBCTL_DB"] = str(jc.tmp / "plain" / "x.db")
    _one_line_error(jc.run("enqueue", "--", "true"), 1, "plain")


def test_db_path_that_is_a_directory_is_one_line(jc: Jobctl) -> None:
    (jc.tmp / "adir.db").mkdir()
    jc.env["JOBCTL_DB"] = str(jc.tmp / "adir.db")
    _one_line_error(jc.run("list"), 1, "adir.db")


@pytest.mark.parametrize(
    "args",
    [
        ["show", "999"],
        ["status", "999"],
        ["cancel", "999"],
        ["logs", "999"],
        ["explain", "999"],
        ["dlq", "show", "5"],
    ],
)
def test_not_found_exits_3(jc: Jobctl, args: list[str]) -> None:
    jc.enqueue("--", "true")  # the DB exists (without it, a read says "no jobctl database")
    _one_line_error(jc.run(*args), 3, "999" if args[0] != "dlq" else "5")


def test_bulk_cancel_needs_the_count(jc: Jobctl) -> None:
    ids = [str(jc.enqueue("--", "true")) for _ in range(2)]
    _one_line_error(jc.run("cancel", *ids), 4, "--confirm 2")
    _one_line_error(jc.run("cancel", *ids, "--confirm", "3"), 4)
    jc.ok("cancel", *ids, "--confirm", "2")


def test_purge_needs_the_queue_name(jc: Jobctl) -> None:
    jc.enqueue("--", "true")
    _one_line_error(jc.run("queue", "purge", "default"), 4)
    purged = jc.run("queue", "purge", "default", "--confirm", "default")
    assert purged.rc == 0 and "request id" in purged.err
    assert jc.json("list")[0]["state"] == "cancelled"
    entries = [(a["action"], a["target"], a["outcome"]) for a in jc.json("audit")]
    assert entries == [
        ("job.enqueue", "1", "ok"),
        ("queue.purge", "default", "refused"),
        ("queue.purge", "default", "ok"),
    ]


def test_wait_timeout_exits_75(jc: Jobctl) -> None:
    job_id = jc.enqueue("--", "true")
    _one_line_error(jc.run("wait", str(job_id), "--timeout", "200ms"), 75, str(job_id))


def test_json_shapes_have_the_spec_keys(jc: Jobctl) -> None:
    job = jc.json("enqueue", "--", "echo", "x")
    # extra: the request that enqueued it, its placement, its gang (null: none)
    assert set(job) == JOB_KEYS | {"request_id", "on_node", "on_tag", "gang_id", "gang_rank"}
    assert job["created_at"].endswith("Z")
    shown = jc.json("show", str(job["id"]))
    assert set(shown) >= JOB_KEYS | {"attempt_log", "output_tail"}
    status = jc.json("status")
    assert set(status) == {"queues", "daemons", "enabled", "nodes"}  # enabled: false = disabled
    assert {
        "queue",
        "ready",
        "scheduled",
        "running",
        "retrying",
        "failed_24h",
        "dead",
        "lag_seconds",
        "paused",
    } <= set(status["queues"][0])
    assert set(jc.json("explain", str(job["id"]))) == {"id", "state", "reason", "facts"}
    assert jc.json("queue", "list")[0]["name"] == "default"


def test_output_option_before_or_after_the_command(jc: Jobctl) -> None:
    jc.enqueue("--", "true")
    assert json.loads(jc.ok("-o", "json", "list")) == json.loads(jc.ok("list", "-o", "json"))
    jc.env["JOBCTL_OUTPUT"] = "json"
    assert isinstance(json.loads(jc.ok("list")), list)


def test_enqueue_from_jsonl_is_all_or_nothing(jc: Jobctl) -> None:
    good = '{"command": ["true"]}\n{"command": "echo hi", "queue": "default", "priority": 2}\n'
    out = jc.ok("enqueue", "--from", "-", input=good.encode())
    assert len(out.split()) == 2
    bad = good + '{"command": ["true"], "in": "5x"}\n'
    res = jc.run("enqueue", "--from", "-", input=bad.encode())
    assert res.rc == 2 and "stdin:3" in res.err
    assert len(jc.json("list")) == 2


def test_explain_names_the_pause(jc: Jobctl) -> None:
    job_id = jc.enqueue("--", "true")
    jc.ok("queue", "pause", "default")
    assert "paused" in jc.json("explain", str(job_id))["reason"]
    jc.ok("queue", "resume", "default")
    assert "No live daemon" in jc.json("explain", str(job_id))["reason"]


def test_retry_of_a_queued_job_is_refused(jc: Jobctl) -> None:
    job_id = jc.enqueue("--", "true")
    res = jc.run("retry", str(job_id))
    assert res.rc == 1 and "queued" in res.err


def test_no_colour_and_tables_without_a_tty(jc: Jobctl) -> None:
    jc.enqueue("--name", "plain", "--", "true")
    out = jc.ok("list")
    assert "\x1b[" not in out and "plain" in out


def test_version_and_init(jc: Jobctl) -> None:
    assert jc.ok("--version").startswith("jobctl ")
    jc.env["JOBCTL_CONFIG"] = str(jc.tmp / "etc" / "config.yaml")
    jc.ok("init")
    assert (jc.tmp / "etc" / "config.yaml").exists() and jc.db.exists()
    jc.ok("config", "check")


def test_config_check_warns_when_a_promoted_import_is_still_in_the_crontab(jc: Jobctl) -> None:
    crontab = jc.tmp / "crontab"
    crontab.write_text("SHELL=/bin/sh\n15 3 * * * /usr/local/bin/backup\n")
    config = jc.tmp / "config.yaml"
    config.write_text("queues:\n  - name: default\n")
    jc.env["JOBCTL_CONFIG"] = str(config)
    jc.ok("schedule", "import", str(crontab))
    name = jc.json("schedule", "list")[0]["name"]
    assert "still in the crontab" not in jc.run("config", "check").err, "shadow: no warning"
    jc.ok("schedule", "promote", name)
    res = jc.run("config", "check")
    assert res.rc == 0 and f"{crontab}:2 is still in the crontab" in res.err, res
    crontab.write_text("SHELL=/bin/sh\n# 15 3 * * * /usr/local/bin/backup\n")
    assert "still in the crontab" not in jc.run("config", "check").err
