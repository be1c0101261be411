"""Where an enqueued job will run: the CLI's and the Python client's own directory by default;
a `--cwd` that does not exist is invalid input and nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobctl.client import Client
from jobctl.store import Store
from tests.support.cli import run_main
from tests.support.clock import ManualClock


@pytest.fixture
def project(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The directory the operator enqueues from (the test's working directory)."""
    monkeypatch.setenv("JOBCTL_DB", db_url)
    (tmp_path / "project").mkdir()
    monkeypatch.chdir(tmp_path / "project")
    return tmp_path / "project"


def test_the_cli_records_the_enqueue_directory(project: Path, store: Store) -> None:
    res = run_main("enqueue", "--", "./deploy.sh")
    assert res.rc == 0, res
    assert store.jobs.get(int(res.out)).cwd == str(project)


@pytest.mark.parametrize("args", [["--cwd", "nope", "--", "true"], ["--from", "jobs.jsonl"]])
def test_a_cwd_that_does_not_exist_exits_2_and_writes_nothing(
    project: Path, store: Store, clock: ManualClock, args: list[str]
) -> None:
    (project / "jobs.jsonl").write_text(
        '{"command": ["true"]}\n{"command": ["true"], "cwd": "nope"}\n'
    )
    res = run_main("enqueue", *args)
    assert (res.rc, res.out) == (2, ""), res
    where = "jobs.jsonl:2: " if "--from" in args else ""
    assert res.err == (
        f"jobctl: error: {where}invalid cwd 'nope': no such directory ({project / 'nope'})\n"
    )
    assert store.jobs.list(clock.now()) == [] and store.audit.list(None, (), 10) == []


def test_the_python_client_runs_jobs_in_its_own_directory_by_default(
    project: Path, client: Client
) -> None:
    assert client.get(client.enqueue(["./deploy.sh"])).cwd == str(project)
    assert client.get(client.enqueue(["pwd"], cwd="..")).cwd == str(project.parent)
