"""Commands that read the DB never create or convert one (SPEC "Global conventions"): a
missing DB is exit 3 "no jobctl database at PATH", health and smoke are CRITICAL, an
application's SQLite file is refused unchanged; commands that need no DB work without one."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
import typer

from jobctl.cli import app
from jobctl.cli.context import EXISTING_DB_COMMANDS
from tests.support.cli import run_main

# Each command that reads the DB, with arguments it needs.
READS = {
    "status": [], "list": [], "show": ["1"], "logs": ["1"], "explain": ["1"], "wait": ["1"],
    "schedule list": [], "schedule show": ["x"], "schedule missed": [], "schedule export": [],
    "dlq list": [],
    "dlq show": ["1"], "audit": [], "top": [], "metrics": [], "db check": [], "once list": [],
    "once show": ["x"], "lock list": [], "sweep list": [], "sweep show": ["1"],
    "queue list": [], "token list": [], "checkpoint get": [], "node list": [],
    # the node actions: a node exists only in a DB a daemon served
    "node drain": ["n1"], "node resume": ["n1"], "node forget": ["n1", "--confirm", "n1"],
    "notify list": [], "notify show": ["1"],
}  # fmt: skip
# Those that need no DB but read one that exists, and the monitors.
USES_ANY_DB = {"config check", "schedule next", "smoke"}


@pytest.fixture
def missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A mistyped DB path: neither it nor its directory exist."""
    db = tmp_path / "typo" / "jobctl.db"
    monkeypatch.setenv("JOBCTL_DB", str(db))
    monkeypatch.setenv("JOBCTL_CONFIG", str(tmp_path / "config.yaml"))
    (tmp_path / "config.yaml").write_text("queues:\n  - name: bulk\n")
    return db


@pytest.mark.parametrize("command", READS)
def test_a_read_command_on_a_missing_db_exits_3_and_creates_nothing(
    missing: Path, command: str
) -> None:
    res = run_main(*command.split(), *READS[command])
    assert (res.rc, res.out) == (3, ""), res
    assert res.err == f"jobctl: error: no jobctl database at {missing}\n"
    assert not missing.parent.exists()


@pytest.mark.parametrize("command", ["health", "smoke"])
def test_a_monitor_on_a_missing_db_is_critical_and_creates_nothing(
    missing: Path, command: str
) -> None:
    res = run_main(command)
    assert res.rc == 2 and f"no jobctl database at {missing}" in res.out, res
    assert not missing.parent.exists()


@pytest.mark.parametrize(
    "args",
    [["config", "check"], ["config", "show"], ["schedule", "next", "*/5 * * * *"], ["--help"]],
    ids=" ".join,
)
def test_what_needs_no_db_works_without_one(missing: Path, args: list[str]) -> None:
    assert run_main(*args).rc == 0
    assert not missing.parent.exists()


@pytest.mark.parametrize("args", [["status"], ["list"], ["enqueue", "--", "true"], ["init"]])
def test_an_applications_sqlite_file_is_refused_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    # Given an application's SQLite file as --db (and no config yet)
    (tmp_path / "data").mkdir()
    app_db = tmp_path / "data" / "app.db"
    with sqlite3.connect(app_db) as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)")
    conn.close()
    digest = hashlib.sha256(app_db.read_bytes()).hexdigest()
    if args == ["init"]:  # the config init would write
        monkeypatch.setenv("JOBCTL_CONFIG", str(tmp_path / "etc" / "config.yaml"))
    # When a jobctl command is aimed at it
    res = run_main("--db", str(app_db), *args)
    # Then exit 1 naming it, and it is byte for byte unchanged (nothing else written either)
    assert res.rc == 1 and f"not a jobctl database: {app_db}" in res.err, res
    assert hashlib.sha256(app_db.read_bytes()).hexdigest() == digest
    assert [p.name for p in app_db.parent.iterdir()] == ["app.db"]
    assert not (tmp_path / "etc").exists(), "init wrote its config although it refused the DB"


def test_the_declared_commands_exist_and_are_all_tested_here() -> None:
    """A renamed command must not silently start creating DBs again."""
    names: set[str] = set()

    def walk(command: object, prefix: str) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            names.add(f"{prefix} {name}".strip())
            walk(sub, f"{prefix} {name}".strip())

    walk(typer.main.get_command(app), "")
    assert names >= EXISTING_DB_COMMANDS
    assert set(READS) | USES_ANY_DB == EXISTING_DB_COMMANDS
