"""The HTTP server with real sockets, in-process: requests are read whole on the I/O loop
before a worker sees them (408 for one too slow, 413/431/400/505 on the wire), a slow
reader of a response holds no worker, keep-alive and pipelining work, a full worker queue
or connection table is answered 503, stop() ends idle keep-alives at once."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from jobctl.runtime.http.messages import Request, Response
from jobctl.runtime.http.server import HttpServer
from jobctl.runtime.http.wire import Limits
from tests.support.waiting import wait_until

BIG = 16 * 1024 * 1024  # a response no socket buffer holds


def hello(request: Request) -> Response:
    if request.path == "/big":
        return Response(200, b"x" * BIG, "text/plain")
    return Response.json(200, {"path": request.path, "body": request.body.decode()})


@pytest.fixture
def serve() -> Iterator[Callable[..., HttpServer]]:
    started: list[HttpServer] = []

    def make(
        app: Callable[[Request], Response] = hello, workers: int = 1, **limits: float
    ) -> HttpServer:
        server = HttpServer(("127.0.0.1", 0), app, workers=workers, limits=Limits(**limits))
        server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop(timeout=5)


def connect(server: HttpServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def read_response(sock: socket.socket) -> tuple[bytes, bytes]:
    """One response (head, body) by its Content-Length; (b"", b"") at EOF."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data, b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "the body ended early"
        body += chunk
    return head, body


def assert_another_client_is_served(server: HttpServer) -> None:
    with connect(server) as other:
        other.sendall(b"GET /other HTTP/1.1\r\nHost: h\r\n\r\n")
        assert read_response(other)[0].startswith(b"HTTP/1.1 200")


def test_keep_alive_and_pipelined_requests_share_a_connection(serve) -> None:
    server = serve()
    with connect(server) as sock:
        sock.sendall(b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi")
        head, body = read_response(sock)
        assert head.startswith(b"HTTP/1.1 200") and b"Connection: close" not in head
        assert body == b'{"path":"/a","body":"hi"}'
        sock.sendall(b"GET /b HTTP/1.1\r\nHost: h\r\n\r\nGET /c HTTP/1.1\r\nHost: h\r\n\r\n")
        assert b'"/b"' in read_response(sock)[1] and b'"/c"' in read_response(sock)[1]
        sock.sendall(b"GET /d HTTP/1.1\r\nConnection: close\r\n\r\n")
        head, _ = read_response(sock)
        assert b"Connection: close" in head and sock.recv(10) == b""


def test_chunked_bodies_and_expect_100_continue(serve) -> None:
    server = serve()
    with connect(server) as sock:
        sock.sendall(
            b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"2\r\nhi\r\n1;x=y\r\n!\r\n0\r\n\r\n"
        )
        assert read_response(sock)[1] == b'{"path":"/c","body":"hi!"}'
        sock.sendall(b"POST /e HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"abc")
        assert read_response(sock)[1] == b'{"path":"/e","body":"abc"}'


def test_a_client_too_slow_to_send_its_request_gets_408_and_holds_no_worker(serve) -> None:
    server = serve(request_deadline=0.5)
    with connect(server) as slow:
        # Given a client that sends part of a request, then trickles
        slow.sendall(b"POST /slow HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nab")
        # When another client asks meanwhile, the only worker answers it
        assert_another_client_is_served(server)
        # Then the slow one gets 408 at its deadline, and the connection ends
        head, body = read_response(slow)
        assert head.startswith(b"HTTP/1.1 408"), head
        assert b"0.5s" in body and b"Connection: close" in head
        assert slow.recv(10) == b""


def test_an_idle_connection_is_closed_silently(serve) -> None:
    server = serve(idle=0.3)
    with connect(server) as sock:
        assert sock.recv(100) == b"", "no 408 to a client that never started a request"


def test_a_slow_reader_of_a_response_holds_no_worker(serve) -> None:
    server = serve()  # one worker
    with connect(server) as reader:
        # Given a client that asks for a response larger than any socket buffer and reads none
        reader.sendall(b"GET /big HTTP/1.1\r\nHost: h\r\n\r\n")
        # When another client asks, the one worker answers it
        assert_another_client_is_served(server)
        # Then the slow reader still gets its whole response
        head, body = read_response(reader)
        assert head.startswith(b"HTTP/1.1 200") and len(body) == BIG


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"POST / HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n", b"413"),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + b"100001\r\n", b"413"),
        (b"POST / HTTP/1.1\r\nContent-Length: \xc2\xb2\r\n\r\n", b"400"),
        (b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", b"400"),
        (b"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", b"400"),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", b"501"),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0x1\r\n", b"400"),
        (b"GET / HTTP/2.0\r\n\r\n", b"505"),
        (b"GET /\r\n\r\n", b"400"),
        (b"GET /\x01 HTTP/1.1\r\n\r\n", b"400"),
        (b"GET http://[::1 HTTP/1.1\r\n\r\n", b"400"),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", b"414"),
        (b"GET / HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n", b"431"),
        (b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 101 + b"\r\n", b"431"),
    ],
)
def test_requests_that_cannot_be_read_are_refused_on_the_wire(
    serve, raw: bytes, status: bytes
) -> None:
    seen: list[Request] = []
    server = serve(app=lambda r: seen.append(r) or hello(r), body=1024 * 1024)
    with connect(server) as sock:
        sock.sendall(raw)
        head, body = read_response(sock)
        assert head.startswith(b"HTTP/1.1 " + status), head
        assert b"Connection: close" in head and body.startswith(b'{"error":')
    assert seen == [], "the application never saw it"


def test_a_full_worker_queue_is_answered_503_with_retry_after(serve) -> None:
    taken, release = threading.Event(), threading.Event()

    def blocking(request: Request) -> Response:
        taken.set()
        release.wait(30)
        return hello(request)

    server = serve(app=blocking, backlog=1)
    held = [connect(server), connect(server)]
    try:
        # Given the only worker busy and one request waiting for it
        held[0].sendall(b"GET /held HTTP/1.1\r\nHost: h\r\n\r\n")
        assert taken.wait(10), "the worker took the first request"
        held[1].sendall(b"GET /queued HTTP/1.1\r\nHost: h\r\n\r\n")
        wait_until(lambda: server._requests.qsize() == 1, 10, 0.01, "one request queued")
        # When a third one comes, it is told to come back later
        with connect(server) as third:
            third.sendall(b"GET /third HTTP/1.1\r\nHost: h\r\n\r\n")
            head, _ = read_response(third)
        assert head.startswith(b"HTTP/1.1 503") and b"Retry-After: 1" in head, head
        # And the two held ones are answered once the worker is free
        release.set()
        for sock in held:
            assert read_response(sock)[0].startswith(b"HTTP/1.1 200")
    finally:
        release.set()
        for sock in held:
            sock.close()


def test_connections_over_the_limit_are_answered_503(serve) -> None:
    server = serve(connections=2)
    held = [connect(server), connect(server)]
    try:
        wait_until(lambda: server.connections == 2, 10, 0.01, "two connections open")
        with connect(server) as third:
            head, _ = read_response(third)
        assert head.startswith(b"HTTP/1.1 503") and b"Retry-After" in head, head
    finally:
        for sock in held:
            sock.close()


def test_stop_returns_promptly_with_an_idle_keep_alive_connection(serve) -> None:
    server = serve(idle=60)
    with connect(server) as sock:
        sock.sendall(b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n")
        assert read_response(sock)[0].startswith(b"HTTP/1.1 200")
        stopper = threading.Thread(target=server.stop, kwargs={"timeout": 30})
        stopper.start()
        assert sock.recv(10) == b"", "the idle connection is closed"
        stopper.join(30)
        assert not stopper.is_alive(), "stop() returned without waiting for the idle client"
