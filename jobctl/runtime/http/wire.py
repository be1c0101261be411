"""HTTP/1.1 on the wire: read one whole request (line, headers, body) from a stream within
the limits, and encode a response. Runs on the server's I/O loop, never on a worker.

Limits: a line (request line, header, chunk size) of `line` bytes, `header_bytes` and
`headers` for the whole head, `body` bytes of body (Content-Length checked before reading,
chunked counted while de-chunking). Once the first byte of a request has arrived, the rest
must arrive within `request_deadline` (408); a connection with no request in progress is
closed after `idle` seconds, silently.
"""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from email.utils import formatdate
from http import HTTPStatus
from http.client import HTTPException, parse_headers
from urllib.parse import urlsplit

from jobctl.runtime.http.messages import Request, Response

_METHOD = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_VERSION = re.compile(r"HTTP/([0-9])\.([0-9])")
_LENGTH = re.compile(r"[0-9]{1,19}")
_CHUNK = re.compile(rb"[0-9A-Fa-f]{1,15}")
_CONTROL = re.compile(r"[\x00-\x20\x7f]")
BLANK_LINES = 4  # stray CRLFs tolerated before a request line (RFC 9112 2.2)


@dataclass(frozen=True)
class Limits:
    body: int = 1024 * 1024
    line: int = 8192
    header_bytes: int = 64 * 1024
    headers: int = 100
    request_deadline: float = 15.0  # seconds from a request's first byte to its last
    idle: float = 60.0  # seconds a connection may wait between requests
    write: float = 30.0  # seconds a client has to take a response
    connections: int = 256  # open connections; more are answered 503
    backlog: int = 64  # complete requests waiting for a free worker; more are answered 503


class HttpError(Exception):
    """A request that cannot be served; answered with `status` and the connection closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def read_request(
    reader: asyncio.StreamReader, limits: Limits, send_continue: Callable[[], None]
) -> Request | None:
    """The next whole request, or None when the client closed or idled out between
    requests. HttpError (400, 408, 413, 414, 431, 501, 505) for one that cannot be read."""
    try:
        async with asyncio.timeout(limits.idle):
            first = await _first_byte(reader)
    except TimeoutError:
        return None
    if not first:
        return None
    try:
        async with asyncio.timeout(limits.request_deadline):
            return await _read_rest(first, reader, limits, send_continue)
    except TimeoutError:
        raise HttpError(
            408, f"the request did not arrive within {limits.request_deadline:g}s"
        ) from None
    except asyncio.IncompleteReadError:
        return None  # the client went away mid-request
    except asyncio.LimitOverrunError:
        raise HttpError(431, f"a request line or header over {limits.line} bytes") from None


async def _first_byte(reader: asyncio.StreamReader) -> bytes:
    for _ in range(BLANK_LINES + 1):
        byte = await reader.read(1)
        if byte not in (b"\r", b"\n"):
            return byte
    raise HttpError(400, "expected a request line")


async def _line(reader: asyncio.StreamReader) -> bytes:
    """One line, at most the stream's limit (`Limits.line`; else LimitOverrunError)."""
    return await reader.readuntil(b"\n")


async def _read_rest(
    first: bytes, reader: asyncio.StreamReader, limits: Limits, send_continue: Callable[[], None]
) -> Request:
    try:
        request_line = first + await _line(reader)
    except asyncio.LimitOverrunError:
        raise HttpError(414, f"request line over {limits.line} bytes") from None
    method, target, version = _parse_request_line(request_line.decode("iso-8859-1"))
    head, size = [], 0
    while True:
        line = await _line(reader)
        head.append(line)
        if line in (b"\r\n", b"\n"):
            break
        size += len(line)
        if len(head) > limits.headers or size > limits.header_bytes:
            raise HttpError(431, f"over {limits.headers} headers or {limits.header_bytes} bytes")
    try:
        headers = parse_headers(io.BytesIO(b"".join(head)))
    except HTTPException as exc:
        raise HttpError(431, f"malformed headers: {exc}") from None
    connection = {t.strip().lower() for t in (headers.get("Connection") or "").split(",")}
    keep_alive = version == (1, 1) and "close" not in connection
    body = await _read_body(reader, headers, limits, send_continue if version == (1, 1) else None)
    try:
        parts = urlsplit(target)
    except ValueError:
        raise HttpError(400, f"malformed request target {target[:100]!r}") from None
    return Request(method, parts.path, parts.query, headers, body, keep_alive)


def _parse_request_line(text: str) -> tuple[str, str, tuple[int, int]]:
    words = text.rstrip("\r\n").split(" ")
    if len(words) != 3 or not _METHOD.fullmatch(words[0]) or not words[1]:
        raise HttpError(400, f"malformed request line {text.rstrip()[:100]!r}")
    method, target, version_text = words
    if _CONTROL.search(target):
        raise HttpError(400, "control characters in the request target")
    version = _VERSION.fullmatch(version_text)
    if version is None:
        raise HttpError(400, f"malformed HTTP version {version_text[:20]!r}")
    major, minor = int(version.group(1)), int(version.group(2))
    if major != 1:
        raise HttpError(505, f"HTTP version {version_text} not supported (use HTTP/1.1)")
    return method, target, (major, minor)


async def _read_body(
    reader: asyncio.StreamReader,
    headers: Message,
    limits: Limits,
    send_continue: Callable[[], None] | None,
) -> bytes:
    encodings = headers.get_all("Transfer-Encoding") or []
    lengths = headers.get_all("Content-Length") or []
    expect = (headers.get("Expect") or "").strip().lower() == "100-continue"
    if encodings:
        if lengths:
            raise HttpError(400, "both Transfer-Encoding and Content-Length")
        codings = [c.strip().lower() for e in encodings for c in e.split(",")]
        if codings != ["chunked"]:
            raise HttpError(501, f"unsupported Transfer-Encoding {', '.join(encodings)!r}")
        if expect and send_continue:
            send_continue()
        return await _read_chunked(reader, limits)
    if not lengths:
        return b""
    values = {v.strip() for v in lengths}
    text = values.pop()
    if values or not _LENGTH.fullmatch(text):
        raise HttpError(400, f"invalid Content-Length {', '.join(lengths)[:40]!r}")
    length = int(text)
    if length > limits.body:
        raise HttpError(413, f"request body too large (over {limits.body} bytes)")
    if expect and send_continue and length:
        send_continue()
    return await reader.readexactly(length)


async def _read_chunked(reader: asyncio.StreamReader, limits: Limits) -> bytes:
    parts, total = [], 0
    while True:
        line = await _line(reader)
        size_text = line.split(b";", 1)[0].strip()
        if not _CHUNK.fullmatch(size_text):
            raise HttpError(400, "malformed chunked body")
        size = int(size_text, 16)
        if size == 0:
            break
        total += size
        if total > limits.body:
            raise HttpError(413, f"request body too large (over {limits.body} bytes)")
        parts.append(await reader.readexactly(size))
        if await _line(reader) not in (b"\r\n", b"\n"):
            raise HttpError(400, "malformed chunked body")
    for _ in range(limits.headers + 1):  # trailers, ignored
        if await _line(reader) in (b"\r\n", b"\n"):
            return b"".join(parts)
    raise HttpError(431, f"over {limits.headers} trailers")


def encode(response: Response, keep_alive: bool, head: bool = False) -> bytes:
    """The response on the wire: status line, headers, body (none for HEAD)."""
    try:
        phrase = HTTPStatus(response.status).phrase
    except ValueError:
        phrase = ""
    lines = [
        f"HTTP/1.1 {response.status} {phrase}",
        "Server: jobctl",
        f"Date: {formatdate(usegmt=True)}",
        f"Content-Type: {response.content_type}",
        f"Content-Length: {len(response.body)}",
        "Cache-Control: no-store",
        "X-Content-Type-Options: nosniff",
        *(f"{name}: {value}" for name, value in response.headers.items()),
    ]
    if not keep_alive:
        lines.append("Connection: close")
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("iso-8859-1", "replace")
    return data if head else data + response.body
