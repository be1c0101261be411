"""spawn() on real processes: the glibc posix_spawn path (ctypes, with a cwd) starts the same
child as the Popen path (cwd, exact environment, fds 0-2 and nothing else, a new session,
signal mask and dispositions) and fails with the same one-line errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobctl.runtime import libcspawn
from jobctl.runtime.spawn import SpawnError, spawn

pytestmark = pytest.mark.skipif(not libcspawn.AVAILABLE, reason="glibc's posix_spawn extensions")

PY = sys.executable
ENV = {"PATH": os.environ.get("PATH", os.defpath), "LC_ALL": "C", "JOBCTL_X": "é ü=1"}
# The child's view of itself: cwd, its initial environment block, open fds, session.
PROBE = """\
import os, sys
fds = sorted(int(fd) for fd in os.listdir("/proc/self/fd"))
report = {
    "cwd": os.getcwd(), "environ": open("/proc/self/environ", "rb").read(),
    "fds": fds[:-1],  # the last is the listing's own
    "stdin": sys.stdin.read(),
    "session": os.getsid(0) == os.getpid() == os.getpgrp(),
}
sys.stdout.write(repr(report)); sys.stderr.write("to stderr")
"""


class Child:
    """One spawn's pipes: a payload file on stdin, stdout and stderr each to a pipe."""

    def __init__(self, tmp: Path, payload: str = "the payload") -> None:
        (tmp / "stdin").write_text(payload)
        self.stdin = os.open(tmp / "stdin", os.O_RDONLY | os.O_CLOEXEC)
        self.out_r, self.out_w = os.pipe2(os.O_CLOEXEC)
        self.err_r, self.err_w = os.pipe2(os.O_CLOEXEC)
        self.popen: subprocess.Popen[bytes] | None = None

    def spawn(self, argv: list[str], env: dict[str, str], cwd: str | None, popen: bool) -> int:
        """popen=True: the Popen path (die_with_parent forces it); else the posix_spawn one."""
        pid, proc = spawn(argv, env, cwd, self.stdin, self.out_w, err_fd=self.err_w,
                          die_with_parent=popen)  # fmt: skip
        assert (proc is not None) == popen
        self.popen = proc  # reaped by outputs(): its returncode is set there
        for fd in (self.stdin, self.out_w, self.err_w):
            os.close(fd)
        self.stdin = self.out_w = self.err_w = -1  # never closed twice: threads reuse numbers
        return pid

    def outputs(self, pid: int) -> tuple[bytes, bytes, int]:
        out, err = _read_all(self.out_r), _read_all(self.err_r)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if self.popen is not None:
            self.popen.returncode = code
        return out, err, code

    def close(self) -> None:
        for fd in (self.stdin, self.out_r, self.out_w, self.err_r, self.err_w):
            if fd >= 0:
                os.close(fd)


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)


@pytest.fixture
def child(tmp_path: Path) -> Iterator[Child]:
    c = Child(tmp_path)
    yield c
    c.close()


def probe(tmp_path: Path, cwd: str | None, popen: bool, env: dict[str, str] = ENV) -> dict:
    c = Child(tmp_path)
    try:
        out, err, code = c.outputs(c.spawn([PY, "-c", PROBE], env, cwd, popen))
    finally:
        c.close()
    assert (code, err) == (0, b"to stderr"), out
    return eval(out)  # the child's repr of plain values


def signal_state(tmp_path: Path, cwd: str | None, popen: bool) -> dict[str, int]:
    """The blocked and ignored signals of a child that changes neither (cat, unlike Python)."""
    c = Child(tmp_path)
    try:
        out, _, code = c.outputs(c.spawn(["cat", "/proc/self/status"], ENV, cwd, popen))
    finally:
        c.close()
    assert code == 0
    return {k: int(v, 16) & ~GLIBC_INTERNAL
            for k, v in (line.split(":\t") for line in out.decode().splitlines())
            if k in ("SigBlk", "SigIgn")}  # fmt: skip


def bit(sig: int) -> int:
    return 1 << (sig - 1)


# glibc's own signals 32 and 33 (under SIGRTMIN): any posix_spawn leaves them ignored
GLIBC_INTERNAL = bit(32) | bit(33)


def environ_block(env: dict[str, str]) -> bytes:
    return b"".join(os.fsencode(k) + b"=" + os.fsencode(v) + b"\0" for k, v in env.items())


@pytest.mark.parametrize("use_cwd", [True, False], ids=["cwd", "no-cwd"])
def test_the_child_gets_its_cwd_exact_env_fds_session_and_signals_as_with_popen(
    tmp_path: Path, use_cwd: bool
) -> None:
    # Given a parent that ignores a signal (kept ignored, as Popen does) and holds an
    # inheritable fd (closed in the child, as close_fds=True does)
    work = tmp_path / "work dir"
    work.mkdir()
    cwd = str(work) if use_cwd else None
    leak_r, leak_w = os.pipe()
    os.set_inheritable(leak_w, True)
    old_usr2 = signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    try:
        # When the same child starts by posix_spawn and by Popen
        fast, slow = (probe(tmp_path, cwd, popen) for popen in (False, True))
        signals = [signal_state(tmp_path, cwd, popen) for popen in (False, True)]
        ignored = _ignored()
        # (and by posix_spawn from a thread that blocks a signal)
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
        try:
            unblocked = signal_state(tmp_path, cwd, False)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    finally:
        signal.signal(signal.SIGUSR2, old_usr2)
        os.close(leak_r)
        os.close(leak_w)
    # Then it runs where asked, with exactly the environment given, fds 0-2 only (stdin from
    # the payload file), as leader of its own session, with an empty signal mask, ignoring
    # what this process ignores (SIGUSR2 here) but SIGPIPE and SIGXFSZ (Python's)
    assert fast["cwd"] == (str(work) if use_cwd else os.getcwd())
    assert fast["environ"] == environ_block(ENV)
    assert fast["fds"] == [0, 1, 2] and fast["stdin"] == "the payload"
    assert fast["session"] is True
    assert ignored & bit(signal.SIGUSR2) and ignored & bit(signal.SIGPIPE)
    expected = {"SigBlk": 0, "SigIgn": ignored & ~bit(signal.SIGPIPE) & ~bit(signal.SIGXFSZ)}
    assert signals[0] == unblocked == expected
    # And the Popen path gives the child the same
    assert fast == slow and signals[1] == expected


def _ignored() -> int:
    """The signals this process ignores (a bit mask, as /proc shows it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return int(line.split()[1], 16)
    raise AssertionError("no SigIgn in /proc/self/status")


def test_successive_and_concurrent_spawns_each_get_their_own_environment(
    tmp_path: Path,
) -> None:
    # Given environments sharing most variables (the remembered encodings), one with a
    # variable the other lacks and values that differ
    envs = [dict(ENV, JOBCTL_JOB_ID=str(i), **({"EXTRA": "x"} if i % 2 else {})) for i in range(8)]
    envs.append({k: v for k, v in ENV.items() if k != "LC_ALL"})
    for d in [*(f"s{i}" for i in range(len(envs))), *(f"t{i}" for i in range(4))]:
        (tmp_path / d).mkdir()
    # When they start one after the other, then from four threads at once
    for i, env in enumerate(envs):
        assert probe(tmp_path / f"s{i}", str(tmp_path), False, env)["environ"] == environ_block(env)
    seen: dict[int, bytes] = {}

    def run(i: int) -> None:
        seen[i] = probe(tmp_path / f"t{i}", None, False, envs[i])["environ"]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    # Then each child saw exactly its own
    assert seen == {i: environ_block(envs[i]) for i in range(4)}


def test_a_relative_command_runs_from_the_cwd(tmp_path: Path, child: Child) -> None:
    script = tmp_path / "run.sh"
    script.write_text("#!/bin/sh\necho ran in $(pwd)\n")
    script.chmod(0o755)
    out, _, code = child.outputs(child.spawn(["./run.sh"], ENV, str(tmp_path), False))
    assert (code, out) == (0, f"ran in {tmp_path}\n".encode())


BAD_NAME = "illegal environment variable name"


def _broken(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "plain-file").write_text("")
    noexec = tmp_path / "noexec"
    noexec.write_text("#!/bin/sh\n")
    noexec.chmod(0o644)
    badint = tmp_path / "badint"
    badint.write_text("#!/nonexistent/interpreter\n")
    badint.chmod(0o755)
    return {"DIR": str(tmp_path), "NOEXEC": str(noexec), "BADINT": str(badint)}


@pytest.mark.parametrize(
    ("argv", "cwd", "env", "error"),
    [
        (["true"], "DIR/missing", ENV, "no such directory: DIR/missing"),
        (["true"], "DIR/plain-file", ENV, "no such directory: DIR/plain-file"),
        (["./missing"], "DIR/missing", ENV, "no such directory: DIR/missing"),
        (["nosuchcmd-jobctl"], "DIR", ENV, "command not found: nosuchcmd-jobctl"),
        (["/nonexistent/jobctl"], "DIR", ENV, "command not found: /nonexistent/jobctl"),
        (["./missing"], "DIR", ENV, "command not found: ./missing"),
        (["NOEXEC"], "DIR", ENV, "not executable: NOEXEC"),
        (["./noexec"], "DIR", ENV, "not executable: ./noexec"),
        (["BADINT"], "DIR", ENV, "cannot execute BADINT: bad interpreter"),
        (["./badint"], "DIR", ENV, "cannot execute ./badint: bad interpreter"),
        (["tr\0ue"], "DIR", ENV, "invalid command 'tr\\x00ue': embedded null byte"),
        (["true"], "DIR", {**ENV, "A": "b\0"}, "invalid command 'true': embedded null byte"),
        (["true"], "DIR", {**ENV, "A=B": "c"}, f"invalid command 'true': {BAD_NAME}"),
    ],
    ids=[
        "no-cwd",
        "cwd-file",
        "no-cwd-relative",
        "not-found",
        "no-path",
        "no-relative",
        "not-exec",
        "not-exec-relative",
        "bad-interpreter",
        "bad-interpreter-relative",
        "nul-argv",
        "nul-env",
        "bad-env-name",
    ],
)
@pytest.mark.parametrize("popen", [False, True], ids=["posix_spawn", "popen"])
def test_spawn_errors_are_the_same_one_line_on_both_paths(
    tmp_path: Path, argv: list[str], cwd: str, env: dict[str, str], error: str, popen: bool
) -> None:
    names = _broken(tmp_path)
    fill = names.__getitem__
    argv = [names.get(a, a) for a in argv]
    cwd = cwd.replace("DIR", fill("DIR"))
    for name in ("NOEXEC", "BADINT", "DIR"):
        error = error.replace(name, fill(name))
    c = Child(tmp_path)
    try:
        with pytest.raises(SpawnError) as raised:
            c.spawn(argv, env, cwd, popen)
    finally:
        c.close()
    assert str(raised.value) == error
