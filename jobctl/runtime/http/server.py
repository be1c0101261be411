"""A small threaded HTTP/1.1 server on the standard library, with the limits a daemon needs.

Why not `ThreadingHTTPServer` as is: it starts one thread per connection without bound.
Here a fixed pool of workers takes accepted connections from a bounded queue (a full queue
is answered 503 at once), every socket read and write has a timeout and a whole request has
a deadline (a slow, silent or trickling client is dropped and never holds more than one
worker for long), request bodies are capped (checked
against Content-Length before reading, counted while de-chunking), and each worker keeps its
own store connection (SQLite connections are per thread). The daemon's dispatcher runs on
its own thread and never waits for any of this.
"""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from jobctl.runtime.http.body import read_body

DEFAULT_BODY_LIMIT = 1024 * 1024
DEFAULT_WORKERS = 16
DEFAULT_TIMEOUT = 5.0  # seconds per socket read/write, and for an idle keep-alive connection
DEFAULT_DEADLINE = 15.0  # seconds for a whole request (line, headers, body) to arrive


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: Any  # email.message.Message: case-insensitive .get()
    read_body: Callable[[], bytes]


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    close: bool = False  # close the connection afterwards (an unread body)
    log: dict[str, Any] = field(default_factory=dict)  # extra fields for the access log line

    @classmethod
    def json(cls, status: int, document: Any, **kwargs: Any) -> Response:
        body = json.dumps(document, separators=(",", ":")).encode()
        return cls(status, body, "application/json", **kwargs)

    @classmethod
    def error(cls, status: int, message: str, **kwargs: Any) -> Response:
        return cls.json(status, {"error": message}, **kwargs)


Application = Callable[[Request], Response]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall
    server_version = "jobctl"
    sys_version = ""
    server: PoolServer

    def version_string(self) -> str:
        return self.server_version

    def setup(self) -> None:
        self.timeout = self.server.socket_timeout
        super().setup()

    def handle_one_request(self) -> None:
        self.server.reading(self.connection)  # from the request line to the end of the body
        try:
            super().handle_one_request()
        finally:
            self.server.done_reading(self.connection)

    def handle_expect_100(self) -> bool:
        length = self.headers.get("Content-Length") or ""
        if length.strip().isdigit() and int(length) > self.server.body_limit:
            self._send(Response.error(413, "request body too large", close=True))
            return False
        return super().handle_expect_100()

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        body_read = False

        def body() -> bytes:
            nonlocal body_read
            body_read = True
            return read_body(self, self.server.body_limit)

        request = Request(self.command, parts.path, parts.query, self.headers, body)
        response = self.server.app(request)
        if not body_read and (
            self.headers.get("Content-Length") not in (None, "0")
            or self.headers.get("Transfer-Encoding")
        ):
            response.close = True  # the unread body would be taken for the next request
        self._send(response, head=self.command == "HEAD")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):  # every method reaches the application (405, not 501)
            return self._dispatch
        raise AttributeError(name)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Errors found while parsing the request line or headers, as JSON."""
        with contextlib.suppress(OSError):
            self._send(Response.error(code, message or "bad request", close=True))

    def _send(self, response: Response, head: bool = False) -> None:
        self.server.done_reading(self.connection)
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if not head:
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Access lines come from the application (with request ids); stay quiet here."""


class PoolServer(socketserver.TCPServer):
    """TCP server whose connections are served by a fixed pool of worker threads."""

    allow_reuse_address = True
    request_queue_size = 64

    def __init__(
        self,
        address: tuple[str, int],
        app: Application,
        workers: int = DEFAULT_WORKERS,
        body_limit: int = DEFAULT_BODY_LIMIT,
        socket_timeout: float = DEFAULT_TIMEOUT,
        backlog: int = 64,
        request_deadline: float = DEFAULT_DEADLINE,
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)
        self.app, self.body_limit, self.socket_timeout = app, body_limit, socket_timeout
        self._pending: queue.Queue[tuple[Any, Any] | None] = queue.Queue(maxsize=backlog)
        self._workers = [
            threading.Thread(target=self._work, name=f"http-{n}", daemon=True)
            for n in range(workers)
        ]
        self._thread: threading.Thread | None = None
        self._open: set[Any] = set()  # connections being served (shut down on stop)
        self._reading: dict[Any, float] = {}  # connection -> when its request began
        self.request_deadline = request_deadline
        self._lock = threading.Lock()

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def busy(self) -> int:
        """Connections a worker is serving now."""
        with self._lock:
            return len(self._open)

    @property
    def queued(self) -> int:
        """Accepted connections waiting for a free worker."""
        return self._pending.qsize()

    def process_request(self, request: Any, client_address: Any) -> None:
        try:
            self._pending.put_nowait((request, client_address))
        except queue.Full:
            with contextlib.suppress(OSError):
                request.settimeout(1.0)
                body = b'{"error":"server busy"}'
                request.sendall(
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                    b"Retry-After: 1\r\nConnection: close\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                )
            self.shutdown_request(request)

    def _work(self) -> None:
        while True:
            item = self._pending.get()
            if item is None:
                return
            request, client_address = item
            with self._lock:
                self._open.add(request)
            try:
                self.finish_request(request, client_address)
            except Exception:
                self.handle_error(request, client_address)
            finally:
                with self._lock:
                    self._open.discard(request)
                self.shutdown_request(request)

    def reading(self, conn: Any) -> None:
        with self._lock:
            self._reading[conn] = time.monotonic()

    def done_reading(self, conn: Any) -> None:
        with self._lock:
            self._reading.pop(conn, None)

    def service_actions(self) -> None:
        """Between accepts (every poll interval): drop connections whose request has not
        arrived in full within the deadline (a client trickling bytes beats the per-read
        timeout, not this)."""
        cutoff = time.monotonic() - self.request_deadline
        with self._lock:
            late = [conn for conn, began in self._reading.items() if began < cutoff]
            for conn in late:
                del self._reading[conn]
        for conn in late:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A dropped or timed-out connection is routine; never print a traceback."""

    def start(self) -> None:
        """Serve on background threads until `stop()`."""
        for worker in self._workers:
            worker.start()
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.2}, name="http", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, let workers finish their current connection, close the socket."""
        deadline = time.monotonic() + timeout
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout)
        with self._lock:
            for conn in self._open:  # idle keep-alive connections would wait for a timeout
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RD)
        for _ in self._workers:
            with contextlib.suppress(queue.Full):
                self._pending.put(None, timeout=max(0.0, deadline - time.monotonic()))
        for worker in self._workers:
            if worker.is_alive():
                worker.join(max(0.0, deadline - time.monotonic()))
        self.server_close()
