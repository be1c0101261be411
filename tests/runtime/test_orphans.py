"""Finding a dead runner's job processes by their JOBCTL_RUN marker, with real processes."""

from __future__ import annotations

import contextlib
import os
import random
import subprocess
from collections.abc import Iterator

import psutil
import pytest

from jobctl.runtime import orphans
from jobctl.runtime.proctree import process_start_ticks
from tests.support.waiting import wait_until


def _tag() -> str:
    return f"1000.{random.randint(10**5, 10**6)}"


def _alive(tag: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        with contextlib.suppress(psutil.Error):
            if tag in (proc.info["cmdline"] or []) and proc.info["status"] != "zombie":
                found.append(proc)
    return found


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:  # the session each test started, whatever it asserted
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)
        proc.wait(10)


def _job(
    started: list[subprocess.Popen[bytes]], run: orphans.Run, script: str, **kw: object
) -> subprocess.Popen[bytes]:
    env = {"PATH": os.defpath, orphans.MARKER: run.marker()}
    argv = ["/bin/sh", "-c", script]
    proc = subprocess.Popen(argv, env=env, start_new_session=True, **kw)  # type: ignore[call-overload]
    started.append(proc)
    return proc


def test_a_marker_names_its_runner_job_and_attempt() -> None:
    run = orphans.Run("node/with:colons:1234:abcd", 17, 3)
    assert orphans.parse(run.marker()) == run
    for bad in ("", "x", "r/1", "r/a/1", "/1/2", "r/1/2x"):
        assert orphans.parse(bad) is None, bad


def test_marked_processes_are_found_and_their_whole_session_ends(
    started: list[subprocess.Popen[bytes]],
) -> None:
    # Given a dead runner's job whose session holds a process that cleared its environment
    tag, other_tag = _tag(), _tag()
    ours = orphans.Run("n1:100:deadbeef", 7, 1)
    _job(started, ours, f"env -i sleep {tag} & sleep {tag}; wait")
    # and another runner's job (another DB's daemon, say), which is none of our business
    _job(started, orphans.Run("n1:200:cafef00d", 7, 1), f"sleep {other_tag}")
    wait_until(lambda: len(_alive(tag)) == 2 and _alive(other_tag), what="the jobs")
    # When the dead runner's processes are looked for
    found = wait_until(lambda: orphans.marked({"n1:100:deadbeef"}), what="the marked ones")
    # Then only its job is found, by the marker (not the env -i one: it has none)
    assert list(found) == [ours]
    assert {p.pid for p in found[ours]} <= {started[0].pid, *(p.pid for p in _alive(tag))}
    # and ending them ends its whole session, the cleared-environment sleeper included
    orphans.end(found[ours], grace=2.0)
    assert started[0].wait(10) is not None
    wait_until(lambda: not _alive(tag), 10, what="the session to end")
    assert _alive(other_tag), "another runner's job is left alone"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: a job run as another user")
def test_a_job_running_as_another_user_is_found(started: list[subprocess.Popen[bytes]]) -> None:
    tag = _tag()
    run = orphans.Run("n1:300:0badf00d", 9, 2)
    _job(started, run, f"exec sleep {tag}", user="nobody", cwd="/")
    wait_until(lambda: _alive(tag), what="the job")
    found = wait_until(lambda: orphans.marked({run.runner}), what="the marked process")
    assert [p.pid for p in found[run]] == [started[0].pid]
    orphans.end(found[run], grace=2.0)
    assert started[0].wait(10) == -15


def test_a_recorded_pid_counts_only_while_it_names_the_same_process(
    started: list[subprocess.Popen[bytes]],
) -> None:
    proc = _job(started, orphans.Run("r", 1, 1), "exec sleep 60")
    ticks = process_start_ticks(proc.pid)
    assert ticks is not None
    assert orphans.recorded(proc.pid, ticks) is not None
    assert orphans.recorded(proc.pid, ticks + 1) is None, "a recycled pid is someone else"
    assert orphans.recorded(None, None) is None
