"""A job runs where it was enqueued from (as at(1)), not in the daemon's directory: the real
daemon started in one directory, `jobctl enqueue` run from another."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import Jobctl

pytestmark = pytest.mark.slow


@pytest.fixture
def dirs(jc: Jobctl) -> tuple[Path, Path]:
    """(the daemon's directory, the project directory an operator enqueues from)."""
    daemon_dir, project = jc.tmp / "daemon-home", jc.tmp / "project"
    daemon_dir.mkdir()
    project.mkdir()
    (project / "deploy.sh").write_text('#!/bin/sh\necho "deployed from $(pwd)"\n')
    (project / "deploy.sh").chmod(0o755)
    jc.start_daemon(cwd=daemon_dir)
    return daemon_dir, project


def _log(jc: Jobctl, job_id: int, cwd: Path) -> str:
    return jc.ok("logs", str(job_id), cwd=cwd)


def test_a_relative_command_runs_in_the_directory_it_was_enqueued_from(
    jc: Jobctl, dirs: tuple[Path, Path]
) -> None:
    # Given the daemon runs elsewhere, when the README's `enqueue --wait -- ./deploy.sh`
    # runs in the project
    _daemon_dir, project = dirs
    res = jc.run("enqueue", "--wait", "--", "./deploy.sh", cwd=project)
    # Then the job found ./deploy.sh and ran in the project: exit 0
    assert res.rc == 0, (res, jc.daemon_log())
    job_id = int(res.out.split()[0])
    assert _log(jc, job_id, project) == f"deployed from {project}\n"


def test_cwd_chooses_another_directory_relative_to_the_enqueue(
    jc: Jobctl, dirs: tuple[Path, Path]
) -> None:
    _daemon_dir, project = dirs
    (project / "build").mkdir()
    res = jc.run("enqueue", "--wait", "--cwd", "build", "--", "pwd", cwd=project)
    assert res.rc == 0, res
    assert _log(jc, int(res.out.split()[0]), project) == f"{project / 'build'}\n"


def test_bulk_lines_run_where_the_enqueue_ran_unless_they_say(
    jc: Jobctl, dirs: tuple[Path, Path]
) -> None:
    daemon_dir, project = dirs
    lines = [{"command": ["./deploy.sh"]}, {"command": ["pwd"], "cwd": "../daemon-home"}]
    (project / "jobs.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    first, second = (int(i) for i in jc.ok("enqueue", "--from", "jobs.jsonl", cwd=project).split())
    jc.wait_state(first, "succeeded")
    jc.wait_state(second, "succeeded")
    assert _log(jc, first, project) == f"deployed from {project}\n"
    assert _log(jc, second, project) == f"{daemon_dir}\n"
