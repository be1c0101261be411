"""Things for dependency probes to probe: the machine's services (PostgreSQL, Redis,
MariaDB: skipped locally when down, failing in CI), and local servers a test starts on
127.0.0.1:0 — an HTTP server answering a chosen status (counting its hits), a TLS server
with a certificate made for the test, and a "black hole" that accepts connections and
never answers (a hung dependency)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

POSTGRES = ("127.0.0.1", 5432, "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS = ("127.0.0.1", 6379, "redis://127.0.0.1:6379/0")
MYSQL = ("127.0.0.1", 3306, "mysql://root@127.0.0.1:3306/test")


def require(service: tuple[str, int, str]) -> str:
    """The service's URL when its port answers; else skip (fail under CI)."""
    host, port, url = service
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as exc:
        reason = f"no service at {host}:{port} ({exc.strerror or exc})"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return url


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class HttpServer:
    url: str
    hits: list[str] = field(default_factory=list)


@contextlib.contextmanager
def http_server(status: int = 200, body: bytes = b"ok", location: str = "") -> Iterator[HttpServer]:
    """An HTTP server on 127.0.0.1 answering every GET/HEAD with `status` and `body`."""
    found = HttpServer("")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found.hits.append(self.path)
            self.send_response(status)
            if location:
                self.send_header("Location", location)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_HEAD = do_GET

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    found.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()


def make_cert(directory: Path, days: int) -> tuple[Path, Path]:
    """A self-signed certificate for localhost valid `days` days: (cert, key) PEM files."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    cert, key = directory / f"cert-{days}d.pem", directory / f"key-{days}d.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-days",
            str(days),
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@contextlib.contextmanager
def tls_server(cert: Path, key: Path) -> Iterator[str]:
    """A TLS server on 127.0.0.1 presenting `cert` (handshake, then close): its address."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with contextlib.suppress(OSError), context.wrap_socket(conn, server_side=True):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()


@contextlib.contextmanager
def black_hole() -> Iterator[int]:
    """A port whose connections are accepted (by the kernel) and never answered."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)
    try:
        yield int(listener.getsockname()[1])
    finally:
        listener.close()
