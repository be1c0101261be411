"""`jobctl top` in a real pseudo-terminal (draws, `q`/Ctrl-C quit, terminal restored) and its
non-TTY fallback (plain tables, `-o json`)."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import Jobctl
from tests.support.waiting import wait_until


class PtyRun:
    """`jobctl top` with a pty as its controlling terminal and stdio."""

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
        while select.select([self.master], [], [], 0.05)[0]:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                break
            if not chunk:
                break
            self.seen += chunk
        return self.seen

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def wait(self, timeout: float = 15) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self.read()
        self.read()
        return self.proc.wait(1)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
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
        wait_until(lambda: b"Queues" in run.read() and b"default" in run.seen, 20, 0.05, "top drew")
        assert b"\x1b[?1049h" in run.seen, "full screen (alternate screen buffer)"
        assert b"Running" in run.seen and b"Recent failures" in run.seen
        during = termios.tcgetattr(run.slave)
        assert not during[3] & termios.ICANON, "cbreak mode while running"
        if key is None:
            run.proc.send_signal(signal.SIGTERM)
        else:
            run.send(key)
        assert run.wait() == 0, run.seen[-2000:]
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
