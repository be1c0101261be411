"""Reading a request body within a size limit: Content-Length (checked before reading) or
chunked (counted while de-chunking)."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler


class BodyTooLarge(Exception):
    pass


class BadBody(Exception):
    pass


class ReadTimeout(Exception):
    """The client stopped sending its body (408, connection closed)."""


def read_body(handler: BaseHTTPRequestHandler, limit: int) -> bytes:
    """The request body (Content-Length or chunked), at most `limit` bytes."""
    try:
        return _read(handler, limit)
    except (TimeoutError, ConnectionError):
        raise ReadTimeout() from None


def _read(handler: BaseHTTPRequestHandler, limit: int) -> bytes:
    encoding = (handler.headers.get("Transfer-Encoding") or "").lower()
    if "chunked" in encoding:
        return _read_chunked(handler, limit)
    length_text = handler.headers.get("Content-Length")
    if length_text is None:
        return b""
    if not length_text.strip().isdigit():
        raise BadBody(f"invalid Content-Length {length_text!r}")
    length = int(length_text)
    if length > limit:
        raise BodyTooLarge()
    data = handler.rfile.read(length)
    if len(data) < length:
        raise BadBody("the request body ended early")
    return data


def _read_chunked(handler: BaseHTTPRequestHandler, limit: int) -> bytes:
    parts, total = [], 0
    while True:
        line = handler.rfile.readline(1024)
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise BadBody("malformed chunked body") from None
        if size < 0:
            raise BadBody("malformed chunked body")
        if size == 0:
            while handler.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(parts)
        total += size
        if total > limit:
            raise BodyTooLarge()
        chunk = handler.rfile.read(size)
        if len(chunk) < size:
            raise BadBody("the request body ended early")
        parts.append(chunk)
        handler.rfile.readline(1024)  # CRLF after the chunk
