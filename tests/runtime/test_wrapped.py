"""run_wrapped: CMD in its own session, exit codes, capture + pass-through, lease renewals."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import psutil
import pytest

from jobctl.clock import SystemClock
from jobctl.runtime.wrapped import Lease, run_wrapped
from tests.support.waiting import wait_until

ENV = dict(os.environ)


def never() -> bool:
    return True


def test_exit_code_is_commands_and_a_signal_is_128_plus_n(tmp_path: Path) -> None:
    lease = Lease(never, 10)
    assert run_wrapped(["sh", "-c", "exit 7"], ENV, SystemClock(), lease).wrapper_code == 7
    killed = run_wrapped(["sh", "-c", "kill -TERM $$"], ENV, SystemClock(), lease)
    assert (killed.signal, killed.wrapper_code) == (signal.SIGTERM, 128 + signal.SIGTERM)


def test_a_missing_command_is_127_and_runs_nothing(tmp_path: Path) -> None:
    result = run_wrapped(["no-such-command-xyz"], ENV, SystemClock(), Lease(never, 10))
    assert result.wrapper_code == 127 and "command not found" in (result.spawn_error or "")


def test_output_is_captured_and_passed_through(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "logs" / "run.log"
    cmd = ["sh", "-c", "echo to-out; echo to-err >&2"]
    result = run_wrapped(cmd, ENV, SystemClock(), Lease(never, 10), log_path=log)
    out, err = capfd.readouterr()
    assert (out, err) == ("to-out\n", "to-err\n")
    assert sorted(log.read_text().splitlines()) == ["to-err", "to-out"]
    assert result.log_path == log and b"to-out" in result.output_tail


def test_the_lease_is_renewed_while_the_command_runs(tmp_path: Path) -> None:
    renewals: list[int] = []

    def renew() -> bool:
        renewals.append(1)
        if len(renewals) == 3:
            (tmp_path / "go").touch()
        return True

    waiter = f"while [ ! -e {tmp_path / 'go'} ]; do sleep 0.01; done"
    result = run_wrapped(["sh", "-c", waiter], ENV, SystemClock(), Lease(renew, 0.02))
    assert result.wrapper_code == 0 and len(renewals) >= 3


def test_the_command_runs_in_its_own_session_with_the_given_env(tmp_path: Path) -> None:
    out = tmp_path / "ids"
    script = "import os, sys; open(sys.argv[1], 'w').write(f'{os.getsid(0)} {os.environ[\"X_W\"]}')"
    cmd = [sys.executable, "-c", script, str(out)]
    result = run_wrapped(cmd, {**ENV, "X_W": "yes"}, SystemClock(), Lease(never, 10))
    sid, value = out.read_text().split()
    assert result.wrapper_code == 0 and int(sid) != os.getsid(0) and value == "yes"


def test_what_the_command_leaves_holding_its_output_is_ended(tmp_path: Path) -> None:
    pidfile = tmp_path / "bg.pid"
    cmd = ["sh", "-c", f"sleep 60 & echo $! > {pidfile}; echo started"]
    result = run_wrapped(cmd, ENV, SystemClock(), Lease(never, 10), log_path=tmp_path / "l.log")
    assert result.wrapper_code == 0
    pid = int(pidfile.read_text())
    # The pipes close a moment before the killed process turns zombie: allow that moment.
    wait_until(
        lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE,
        5,
        0.01,
        f"leftover pid {pid} to be ended",
    )
