"""`jobctl top` in a real pseudo-terminal (draws, `q`/Ctrl-C quit, terminal restored) and its
non-TTY fallback (plain tables, `-o json`)."""

from __future__ import annotations

import os
import signal
import subprocess
import termios
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import Jobctl
from tests.support.tty import drain
from tests.support.waiting import wait_until

FRAME = (b"Queues", b"Running", b"Recent failures", b"default")  # a whole first frame


class PtyRun:
    """`jobctl top` with a pty as its controlling terminal and stdio. Reads never block and
    never wait a fixed time: callers poll with deadlines (`wait_for`, `wait_exit`)."""

    def __init__(self, jc: Jobctl) -> None:
        self.master, slave = os.openpty()
        self.slave = slave
        self.before = termios.tcgetattr(slave)
        self.proc = subprocess.Popen(
            [*jc.argv0, "top", "--interval", "200ms"],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**jc.env, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"},
            cwd=jc.tmp,
            start_new_session=True,
            preexec_fn=lambda: __import__("fcntl").ioctl(0, termios.TIOCSCTTY, 0),
        )
        self.seen = b""

    def read(self) -> bytes:
        """Everything written to the terminal so far."""
        self.seen += drain(self.master)
        return self.seen

    def wait_for(self, needles: tuple[bytes, ...], timeout: float = 60) -> None:
        """Poll until every needle has been drawn (a frame arrives in many writes)."""
        what = f"top to draw {b', '.join(needles).decode()}"
        wait_until(lambda: all(n in self.read() for n in needles), timeout, 0.05, what)

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def wait_exit(self, timeout: float = 60) -> int:
        """Poll until top exits (reading, so that it never blocks on a full terminal); then
        everything it wrote is in the pty: drain it."""
        wait_until(lambda: self.read() and self.proc.poll() is not None, timeout, 0.05, "exit")
        self.read()
        return self.proc.returncode

    def close(self) -> None:
        """Never leaves a process or a descriptor behind, whatever failed before."""
        try:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(60)
        finally:
            os.close(self.master)
            os.close(self.slave)


@pytest.fixture
def jc(tmp_path: Path) -> Iterator[Jobctl]:
    j = Jobctl(tmp_path)
    j.enqueue("--", "true")  # the DB exists, one ready job
    yield j
    j.stop_daemons()


@pytest.mark.parametrize("key", [b"q", b"\x03", None], ids=["q", "ctrl-c", "sigterm"])
def test_top_draws_in_a_pty_and_quits_cleanly(jc: Jobctl, key: bytes | None) -> None:
    run = PtyRun(jc)
    try:
        run.wait_for(FRAME)  # the whole first frame: top is in its loop, handlers set
        assert b"\x1b[?1049h" in run.seen, "full screen (alternate screen buffer)"
        during = termios.tcgetattr(run.slave)
        assert not during[3] & termios.ICANON, "cbreak mode while running"
        if key is None:
            run.proc.send_signal(signal.SIGTERM)
        else:
            run.send(key)
        assert run.wait_exit() == 0, run.seen[-2000:]
        assert b"\x1b[?1049l" in run.seen, "left the alternate screen"
        assert b"Traceback" not in run.seen
        assert termios.tcgetattr(run.slave) == run.before, "terminal attributes restored"
    finally:
        run.close()


def test_top_without_a_tty_prints_one_snapshot(jc: Jobctl) -> None:
    res = jc.run("top")
    assert res.rc == 0, res
    for title in ("Queues", "Running", "Recent failures"):
        assert title in res.out
    assert "\x1b[" not in res.out, "no escape sequences off a TTY"
    assert "default" in res.out


def test_top_json_snapshot(jc: Jobctl) -> None:
    data = jc.json("top")
    assert set(data) >= {"at", "queues", "running", "failures"}
    (q,) = [q for q in data["queues"] if q["queue"] == "default"]
    assert set(q) >= {"queue", "ready", "running", "lag", "rate"}
    assert q["ready"] == 1 and data["at"].endswith("Z")


@pytest.mark.slow
def test_top_shows_a_running_job_with_cpu_and_rss(jc: Jobctl) -> None:
    jc.start_daemon()
    job_id = jc.enqueue("--name", "spin", "--", "python3", "-c", "while True: pass")
    try:
        row = wait_until(
            lambda: next(
                (r for r in jc.json("top")["running"] if r["job_id"] == job_id and r["pid"]), None
            ),
            20,
            0.2,
            "the running job in top",
        )
        assert row["name"] == "spin" and row["rss"] > 0
        assert row["cpu_percent"] is not None and row["cpu_percent"] > 0
    finally:
        jc.ok("cancel", str(job_id))
