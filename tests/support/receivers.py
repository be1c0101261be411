"""Real receivers on 127.0.0.1 for the notification channels: an HTTP server that records
each request (webhook, PagerDuty format, pings) and can be told to fail or hang, and an
SMTP server (aiosmtpd) that records each message, optionally with STARTTLS and AUTH."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass
class Request:
    method: str
    path: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpReceiver:
    """Records requests; `fail` answers 500 to that many, `hang` holds each request that
    long before answering (both in arrival order)."""

    port: int = 0
    requests: list[Request] = field(default_factory=list)
    fail: int = 0
    hang: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def bodies(self) -> list[Any]:
        with self.lock:
            return [r.json() for r in self.requests if r.method == "POST"]


@contextmanager
def http_receiver() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if receiver.hang:
                receiver.release.wait(receiver.hang)
            with receiver.lock:
                failing = receiver.fail > 0
                if failing:
                    receiver.fail -= 1
                else:
                    receiver.requests.append(Request(self.command, self.path, body))
            try:
                self.send_response(500 if failing else 202)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except OSError:  # the client gave up (its timeout)
                pass

        do_POST = do_GET = do_HEAD = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@dataclass
class Mailbox:
    port: int = 0
    messages: list[Any] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)


@contextmanager
def smtp_receiver(tmp: Path, tls: bool = False, password: str | None = None) -> Iterator[Mailbox]:
    """An aiosmtpd server on 127.0.0.1; with `tls`, STARTTLS (a self-signed cert) is
    offered, and with `password`, AUTH is required (after STARTTLS)."""
    from email import message_from_bytes

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    box = Mailbox()

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            box.messages.append(message_from_bytes(envelope.content))
            return "250 OK queued"

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        login, secret = data.login.decode(), data.password.decode()
        box.logins.append((login, secret))
        return AuthResult(success=secret == password)

    kwargs: dict[str, Any] = {"hostname": "127.0.0.1", "port": _free_port()}
    if tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*_self_signed(tmp))
        kwargs["tls_context"] = context
        kwargs["require_starttls"] = True
    if password is not None:
        kwargs["authenticator"] = authenticate
        kwargs["auth_required"] = True
    controller = Controller(Handler(), **kwargs)
    controller.start()
    box.port = kwargs["port"]
    try:
        yield box
    finally:
        controller.stop()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _self_signed(tmp: Path) -> tuple[str, str]:
    """A throwaway certificate and key for 127.0.0.1 (openssl)."""
    import subprocess

    cert, key = tmp / "smtp.crt", tmp / "smtp.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return str(cert), str(key)
