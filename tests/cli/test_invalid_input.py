"""Invalid input, across commands: exit 2, one stderr line naming the bad value, and nothing
written at all (no job, no schedule, no audit row); a refusal (exit 4) is still audited."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.support.inproc import InProcess

INVALID = [
    (["list", "-o", "yaml"], "'yaml'"),
    (["list", "-o", "JSON"], "'JSON'"),
    (["-o", "xml", "status"], "'xml'"),
    (["status", "-o", "yaml"], "'yaml'"),
    (["schedule", "list", "-o", "csv"], "'csv'"),
    (["list", "--state", "sleeping"], "'sleeping'"),
    (["retry", "--state", "queued"], "'queued'"),
    (["dlq", "list", "--class", "oom"], "'oom'"),
    (["enqueue", "--payload", "[1, 2]", "--", "true"], "[1, 2]"),
    (["enqueue", "--payload", '"text"', "--", "true"], '"text"'),
    (["enqueue", "--from", "bulk.jsonl"], "bulk.jsonl:2"),
    (["enqueue", "--payload", "1" * 5000, "--", "true"], "--payload"),  # too long a number
    (["enqueue", "--payload", "[" * 100000, "--", "true"], "nested too deeply"),
    (["enqueue", "--from", "huge.jsonl"], "huge.jsonl:1: invalid JSON: Exceeds the limit"),
    (["enqueue", "--after", "4242", "--", "true"], "4242"),
    (["enqueue", "-Q", "nowhere", "--", "true"], "nowhere"),
    (["enqueue", "--backoff", "sometimes", "--", "true"], "sometimes"),
    (["enqueue", "--in", "5x", "--", "true"], "5x"),
    (["enqueue", "-o", "yaml", "--", "true"], "'yaml'"),
    (["schedule", "add", "x", "--cron", "*/61 * * * *", "--", "true"], "*/61"),
    (["schedule", "add", "x", "--cron", "0 0 */32 * *", "--", "true"], "day-of-month"),
    (["schedule", "add", "x", "--cron", "@daily", "--overlap", "never", "--", "true"], "never"),
    (["schedule", "add", "x", "--cron", "@daily", "--payload", "[]", "--", "true"], "[]"),
    (["schedule", "next", "*/61 * * * *"], "*/61"),
    (["queue", "pause", "nowhere"], "nowhere"),
    (["queue", "purge", "nowhere", "--confirm", "nowhere"], "nowhere"),
    (["cancel", "abc"], "abc"),
    (["retry"], "--state"),
    (["lock", "l", "--ttl", "0s", "--", "true"], "--ttl"),
    (["token", "create", "t", "--scope", "root"], "root"),
    (["dlq", "replay", "--since", "5x", "--all"], "5x"),
]


def _everything(db: Path) -> list[str]:
    """Every row of every table, schema included."""
    conn = sqlite3.connect(db)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


@pytest.fixture
def used(cli: InProcess) -> InProcess:
    """A DB with a job and an audit entry, configured queues; a bulk file whose second line
    is invalid."""
    cli.config.write_text("queues:\n  - name: default\n  - name: bulk\n")
    cli.enqueue("--name", "first", "--", "true")
    (cli.tmp / "bulk.jsonl").write_text(
        json.dumps({"command": ["true"]}) + "\n" + json.dumps({"command": "x", "payload": [1]})
    )
    (cli.tmp / "huge.jsonl").write_text('{"command": ["true"], "priority": ' + "1" * 5000 + "}")
    return cli


@pytest.mark.parametrize("args,needle", INVALID, ids=[" ".join(a)[:60] for a, _ in INVALID])
def test_invalid_input_exits_2_naming_the_value_and_writes_nothing(
    used: InProcess, args: list[str], needle: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a DB with history
    monkeypatch.chdir(used.tmp)
    before = _everything(used.db)
    # When a command gets invalid input
    res = used.run(*args)
    # Then it exits 2 with one line naming the bad value, and the DB is exactly as it was
    assert res.rc == 2, res
    assert needle in res.err and len(res.err.strip().splitlines()) == 1, res.err
    assert res.out == ""
    assert _everything(used.db) == before, "exit 2 wrote to the DB"


def test_a_refusal_is_still_audited(used: InProcess) -> None:
    used.enqueue("--", "true")
    assert used.run("cancel", "1", "2").rc == 4
    assert [e["outcome"] for e in used.json("audit", "--action", "job.cancel")] == ["refused"]
