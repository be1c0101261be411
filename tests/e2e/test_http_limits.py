"""What a client cannot get past, against a real `jobctl daemon --http` with job types
and no declared queues: slow and idle clients never hold up the requests of others (and a
client keeps its connection across requests); a token cannot mint queue names (and so
`/metrics` label values) outside the SPEC's rule."""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.cli import Jobctl
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

CONFIG = "job_types:\n  - name: send_email\n    command: [cat]\n"
LISTEN = re.compile(r"event=http\.listening addr=(\S+)")
IDLE, SLOW = 32, 16
BOUND = 2.0  # seconds: generous on a loaded machine; a worker pool held by them takes 13 s


class Trickle:
    """`count` slow-loris clients, each sending its request head one byte per second."""

    def __init__(self, host: str, port: int, count: int) -> None:
        self.socks = [socket.create_connection((host, port), timeout=10) for _ in range(count)]
        self.stop = threading.Event()
        self.sent = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        head = b"POST /internal/jobs HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"x" * 200
        for byte in head:
            for sock in self.socks:
                with contextlib.suppress(OSError):
                    sock.sendall(bytes([byte]))
            self.sent += 1
            if self.stop.wait(1.0):
                return

    def __enter__(self) -> Trickle:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)
        for sock in self.socks:
            sock.close()


@pytest.fixture
def daemon(jc: Jobctl, tmp_path: Path) -> Iterator[tuple[Jobctl, str, int, str]]:
    (tmp_path / "config.yaml").write_text(CONFIG)
    jc.env["JOBCTL_CONFIG"] = str(tmp_path / "config.yaml")
    jc.start_daemon("--http", "127.0.0.1:0")
    found = wait_until(lambda: LISTEN.search(jc.daemon_log(0)), 10, 0.05, "http.listening")
    host, port = found.group(1).rsplit(":", 1)
    token = jc.json("token", "create", "svc", "--scope", "enqueue,read")["token"]
    yield jc, host, int(port), token


def test_idle_and_slow_clients_never_hold_up_a_normal_client(
    daemon: tuple[Jobctl, str, int, str],
) -> None:
    jc, host, port, token = daemon
    # Given 32 connections that send nothing and 16 that send a byte per second
    idle = [socket.create_connection((host, port), timeout=10) for _ in range(IDLE)]
    try:
        with Trickle(host, port, SLOW) as trickle:
            wait_until(lambda: trickle.sent >= 2, 10, 0.05, "the slow clients to start sending")
            # When a normal client asks for /healthz, then enqueues on the same connection
            conn = http.client.HTTPConnection(host, port, timeout=30)
            started = time.monotonic()
            conn.request("GET", "/healthz")
            health = conn.getresponse()
            health.read()
            health_took = time.monotonic() - started
            sock = conn.sock
            started = time.monotonic()
            body = json.dumps({"job_type": "send_email", "payload": {"n": 1}})
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            conn.request("POST", "/internal/jobs", body=body, headers=headers)
            posted = conn.getresponse()
            job = json.loads(posted.read())
            post_took = time.monotonic() - started
            reused = conn.sock is sock and sock is not None
            conn.close()
    finally:
        for s in idle:
            s.close()
    # Then both answer at once, and the connection was kept alive between them
    assert health.status in (200, 503) and posted.status == 201, (health.status, job)
    assert health_took < BOUND, f"GET /healthz took {health_took:.1f}s behind idle/slow clients"
    assert post_took < BOUND, f"POST /internal/jobs took {post_took:.1f}s behind them"
    assert reused, "the client's keep-alive connection was reused"
    assert jc.wait_state(job["id"], "succeeded")["id"] == job["id"]


def test_a_queue_name_outside_the_rule_is_422_and_reaches_no_metric(
    daemon: tuple[Jobctl, str, int, str],
) -> None:
    jc, host, port, token = daemon
    url, auth = f"http://{host}:{port}", {"Authorization": f"Bearer {token}"}
    for queue in ("<b>mint-1</b>", "q" * 65, "a b"):
        r = httpx.post(
            f"{url}/internal/jobs", json={"job_type": "send_email", "queue": queue}, headers=auth
        )
        assert r.status_code == 422, r.text
        assert "invalid queue name" in r.json()["error"] and queue[:20] in r.json()["error"]
    ok = httpx.post(
        f"{url}/internal/jobs", json={"job_type": "send_email", "queue": "eu-1.mail"}, headers=auth
    )
    assert ok.status_code == 201, "undeclared queues are fine when config declares none"
    assert [j["queue"] for j in jc.json("list")] == ["eu-1.mail"]
    text = httpx.get(f"{url}/metrics", timeout=10).text
    assert "mint-1" not in text and "q" * 65 not in text
