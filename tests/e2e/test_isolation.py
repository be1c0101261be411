"""As root, what jobctl creates is root-only, and a job run as another user gets a clean
environment and can read neither the DB nor other jobs' logs (SPEC "Execution")."""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import Jobctl

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="root-only files and user switching need root"),
]

READ_BOTH = 'cat "$JOBCTL_DB" > /dev/null; cat "$OTHER_LOG" > /dev/null'


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory anyone may enter, so that only jobctl's own modes protect what it creates
    inside (pytest's tmp_path sits under a root-only directory)."""
    path = Path(tempfile.mkdtemp(prefix="jobctl-isolation-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


@pytest.fixture
def nobody() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user 'nobody' on this host")


def test_a_job_run_as_another_user_gets_a_clean_env_and_cannot_read_the_db_or_logs(
    jc: Jobctl, open_dir: Path, nobody: pwd.struct_passwd
) -> None:
    # Given a root daemon with secrets in its environment, whose DB jobctl creates itself
    jc.db = open_dir / "state" / "jobctl.db"
    config = jc.tmp / "config.yaml"
    config.write_text(
        "job_types:\n"
        "  - name: env\n    command: [/usr/bin/env]\n    user: nobody\n"
        f"  - name: intruder\n    command: [/bin/sh, -c, '{READ_BOTH}']\n"
        "    user: nobody\n"
    )
    jc.env.update(
        JOBCTL_DB=str(jc.db), JOBCTL_CONFIG=str(config), DAEMON_SECRET="s3cret",
        LANG="C.UTF-8", TZ="Europe/Berlin", HOME="/root",
    )  # fmt: skip
    root_job = jc.enqueue("--cwd", "/", "--", "echo", "root's output")
    jc.start_daemon()
    jc.wait_state(root_job, "succeeded")
    root_log = jc.db.with_name("jobctl.logs") / "000000" / f"{root_job}.1.log"
    # When jobs run as nobody: one prints its environment, one reads the DB and that log
    env_job = jc.enqueue("--type", "env", "--cwd", "/", "--env", "MINE=1")
    intruder = jc.enqueue("--type", "intruder", "--cwd", "/", "--env", f"OTHER_LOG={root_log}")
    env = jc.wait_state(env_job, "succeeded", "dead")
    lines = env["output_tail"].splitlines()
    # Then the environment is the user's, the default PATH, LANG/TZ, JOBCTL_* and --env only
    given = dict(line.split("=", 1) for line in lines)
    assert {k for k in given if not k.startswith("JOBCTL_")} == {
        "HOME", "USER", "LOGNAME", "SHELL", "PATH", "LANG", "TZ", "MINE",
    }, given  # fmt: skip
    assert (given["HOME"], given["USER"], given["LOGNAME"], given["SHELL"]) == (
        nobody.pw_dir, "nobody", "nobody", nobody.pw_shell,
    )  # fmt: skip
    assert given["PATH"] == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    assert (given["LANG"], given["TZ"], given["MINE"]) == ("C.UTF-8", "Europe/Berlin", "1")
    assert given["JOBCTL_JOB_ID"] == str(env_job) and given["JOBCTL_DB"] == str(jc.db)
    # and the DB and another job's log are out of its reach
    denied = jc.wait_state(intruder, "retrying", "dead")
    assert denied["exit_code"] == 1
    assert denied["output_tail"].count("Permission denied") == 2, denied["output_tail"]
    # and what jobctl created is root-only: the DB, its -wal/-shm, its directory, the logs
    for path in (jc.db, jc.db.with_name("jobctl.db-wal"), jc.db.with_name("jobctl.db-shm")):
        assert _mode(path) == 0o600, path
    assert _mode(jc.db.parent) == 0o700
    assert _mode(root_log) == 0o600
    assert _mode(root_log.parent) == 0o700 and _mode(root_log.parent.parent) == 0o700
    jc.ok("cancel", str(intruder))


def test_files_jobctl_creates_as_root_are_root_only(jc: Jobctl, open_dir: Path) -> None:
    config = open_dir / "etc" / "config.yaml"
    jc.env.update(JOBCTL_DB=str(open_dir / "db" / "jobctl.db"), JOBCTL_CONFIG=str(config))
    jc.ok("init")
    assert (_mode(config), _mode(config.parent)) == (0o600, 0o700)
    backup = open_dir / "backup.db"
    jc.ok("db", "backup", str(backup))
    assert _mode(backup) == 0o600
    assert _mode(open_dir / "db" / "jobctl.db") == 0o600
