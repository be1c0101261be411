"""Group commit under kill -9 (issue 16): threads sharing one Client enqueue concurrently in
a real process; it is killed mid-stream; every enqueue it acknowledged is in the database,
the refused ones are not, and the commits were fewer than the enqueues."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from jobctl.store import open_store

WRITER = """
import sys, threading
from jobctl import Client
from jobctl.errors import InvalidInput

client = Client(sys.argv[1])
out = threading.Lock()

def say(line):
    with out:
        sys.stdout.write(line + "\\n")
        sys.stdout.flush()

def run(thread):
    n = 0
    while True:
        n += 1
        name = f"t{thread}-{n}"
        if n % 10 == 0:  # refused: its dependency does not exist
            try:
                client.enqueue(["echo", name], depends_on=(10**9,))
            except InvalidInput:
                say(f"refused {name}")
            continue
        job_id = client.enqueue(["echo", name])
        g = client.group_commit
        say(f"ack {job_id} {name} {g.commits} {g.enqueues}")

for t in range(8):
    threading.Thread(target=run, args=(t,), daemon=True).start()
threading.Event().wait()
"""


@pytest.mark.slow
def test_every_acknowledged_enqueue_survives_kill_9(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    open_store(str(db)).close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBCTL_")}
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert proc.stdout is not None
    lines: list[str] = []
    timer = threading.Timer(60, proc.kill)  # a hung writer fails the test, never hangs it
    timer.start()
    try:
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if sum(1 for x in lines if x.startswith("ack ")) >= 400:
                os.kill(proc.pid, signal.SIGKILL)  # in the middle of the stream
                break
        rest, err = proc.communicate(timeout=30)  # what it wrote before it died
    finally:
        timer.cancel()
    lines += rest.splitlines()
    assert proc.returncode == -signal.SIGKILL, err
    acked = [line.split() for line in lines if line.startswith("ack ")]
    refused = [line.split()[1] for line in lines if line.startswith("refused ")]
    assert len(acked) >= 400 and refused
    store = open_store(str(db))
    try:
        for _, job_id, name, _, _ in acked:
            assert store.jobs.get(int(job_id)).command == ["echo", name]
        commands = {j.command[1] for j in store.jobs.list(store.now(), limit=100_000) if j.command}
    finally:
        store.close()
    assert not commands & set(refused)  # a refused enqueue left nothing
    commits, enqueues = (int(x) for x in acked[-1][3:])
    assert commits < enqueues, (commits, enqueues)  # groups formed: fewer fsyncs than jobs
