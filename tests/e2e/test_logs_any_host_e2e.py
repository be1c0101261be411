"""SPEC "Small clusters (PostgreSQL)": `logs` works for any job from any host, also after
the host that ran it is gone: attempt output is kept in the store. The real daemon, the real
CLI; "another host" is a process with its own, empty, state and runtime directories."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import pytest

from tests.support.cli import Jobctl
from tests.support.waiting import wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.parametrize("backend", ["postgres"], indirect=True),
]


def _elsewhere(jc: Jobctl) -> dict[str, str]:
    """The environment of a `jobctl` on another host: nothing of this one's files."""
    other = jc.tmp / "other-host"
    return {
        **jc.env,
        "RUNTIME_DIRECTORY": str(other / "run"),
        "XDG_STATE_HOME": str(other / "state"),
        "XDG_RUNTIME_DIR": str(other / "xdg-run"),
    }


def _logs(jc: Jobctl, job_id: int, *extra: str) -> bytes:
    proc = subprocess.run(
        [*jc.argv0, "logs", *extra, str(job_id)],
        env=_elsewhere(jc),
        capture_output=True,
        timeout=60,
        cwd=jc.tmp,
    )
    assert (proc.returncode, proc.stderr) == (0, b""), proc
    return proc.stdout


def _spooled(jc: Jobctl) -> list[Path]:
    return [p for p in (jc.tmp / "run").rglob("*.log*") if p.is_file()]


def test_logs_from_another_host_after_the_spool_is_gone(jc: Jobctl) -> None:
    jc.start_daemon()
    job_id = jc.enqueue("--", "sh", "-c", "for i in 1 2 3; do echo line $i; done; echo err >&2")
    jc.wait_state(job_id, "succeeded")
    assert _logs(jc, job_id) == b"line 1\nline 2\nline 3\nerr\n"
    # The daemon removed its spool file once the output was stored; with every local file
    # of the daemon's host gone, the output is still there
    assert _spooled(jc) == []
    jc.stop_daemons()
    for path in sorted((jc.tmp / "run").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    assert _logs(jc, job_id) == b"line 1\nline 2\nline 3\nerr\n"
    assert jc.ok("logs", str(job_id)) == "line 1\nline 2\nline 3\nerr\n"


def test_logs_follow_streams_a_running_job_from_another_host(jc: Jobctl) -> None:
    jc.start_daemon()
    flag = jc.tmp / "go-on"
    script = f"echo first; while [ ! -e {flag} ]; do sleep 0.05; done; echo second"
    job_id = jc.enqueue("--", "sh", "-c", script)
    jc.wait_state(job_id, "running")
    follower = subprocess.Popen(
        [*jc.argv0, "logs", "-f", str(job_id)],
        env=_elsewhere(jc),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=jc.tmp,
    )
    seen = bytearray()

    def read() -> None:
        assert follower.stdout is not None
        while data := os.read(follower.stdout.fileno(), 4096):
            seen.extend(data)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        # While the job runs, its first line streams (it is in the store within ~1 s)
        wait_until(lambda: bytes(seen) == b"first\n", 20, 0.05, "the first line streamed")
        assert jc.show(job_id)["state"] == "running"
        # And once it ends, the rest, then the follower exits 0
        flag.touch()
        assert follower.wait(30) == 0
        reader.join(10)
        assert bytes(seen) == b"first\nsecond\n"
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()
        for stream in (follower.stdout, follower.stderr):
            if stream is not None:
                stream.close()


def test_a_dead_daemons_spool_is_stored_by_its_successor(jc: Jobctl) -> None:
    """kill -9 of the daemon while its job runs: the next daemon on the node ends the
    orphan, stores what the spool file holds, and removes it."""
    daemon = jc.start_daemon()
    job_id = jc.enqueue("--max-attempts", "1", "--", "sh", "-c", "echo before the crash; sleep 60")
    wait_until(lambda: _spooled(jc), 20, 0.05, "the job's spool file")
    wait_until(lambda: any(p.read_bytes() for p in _spooled(jc)), 20, 0.05, "its output")
    daemon.kill()
    daemon.wait(10)
    jc.start_daemon()
    jc.wait_state(job_id, "dead")
    assert _logs(jc, job_id) == b"before the crash\n"
    assert _spooled(jc) == []
    assert f"output.leftover_stored job_id={job_id} attempt=1" in jc.daemon_log(1)
