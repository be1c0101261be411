"""The pool server's limits with real sockets, in-process: a whole-request deadline beats a
trickling client, a full accept queue is answered 503, stop() ends idle keep-alives."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from jobctl.runtime.http.server import PoolServer, Request, Response
from tests.support.waiting import wait_until


def hello(request: Request) -> Response:
    return Response.json(200, {"path": request.path, "body": len(request.read_body())})


@pytest.fixture
def server() -> Iterator[PoolServer]:
    s = PoolServer(
        ("127.0.0.1", 0), hello, workers=1, socket_timeout=0.5, backlog=1, request_deadline=1.0
    )
    s.start()
    yield s
    s.stop()


def connect(server: PoolServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def test_a_request_answers(server: PoolServer) -> None:
    with connect(server) as sock:
        sock.sendall(
            b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"
        )
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")


def test_a_trickling_client_is_cut_at_the_deadline(server: PoolServer) -> None:
    started = time.monotonic()
    cut = False
    with connect(server) as sock:
        for byte in b"GET /slow HTTP/1.1\r\nHost: h\r\nX-Padding: " + b"x" * 100:
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                cut = True
                break
            time.sleep(0.2)  # every byte within the 0.5 s read timeout
            if time.monotonic() - started > 8:
                break
        if not cut:
            sock.settimeout(5)
            try:
                cut = sock.recv(100) == b""
            except TimeoutError:
                cut = False
            except OSError:  # reset by the server
                cut = True
    assert cut, "the trickling connection was dropped"
    assert time.monotonic() - started < 8, "by the 1 s request deadline, not by the client"
    with connect(server) as sock:  # and the one worker is free again
        sock.sendall(b"GET /next HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")


def test_a_full_accept_queue_is_answered_503() -> None:
    s = PoolServer(("127.0.0.1", 0), hello, workers=1, socket_timeout=10, backlog=1)
    s.start()
    held: list[socket.socket] = []
    try:
        held.append(connect(s))  # one silent client on the only worker,
        wait_until(lambda: s.busy == 1, 10, 0.01, "the worker to take the first client")
        held.append(connect(s))  # one in the queue
        wait_until(lambda: s.queued == 1, 10, 0.01, "the second client to be queued")
        with connect(s) as third:
            third.settimeout(5)
            reply = third.recv(4096)
        assert reply.startswith(b"HTTP/1.1 503") and b"Retry-After" in reply, reply
    finally:
        for sock in held:
            sock.close()
        s.stop(timeout=2)


def test_stop_returns_promptly_with_an_idle_keep_alive_connection() -> None:
    s = PoolServer(("127.0.0.1", 0), hello, workers=2, socket_timeout=30)
    s.start()
    with connect(s) as sock:
        sock.sendall(b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        s.stop(timeout=5)
        assert time.monotonic() - started < 5
