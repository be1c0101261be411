"""A complete HTTP request as the application sees it, and the response it returns."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from typing import Any


@dataclass(frozen=True)
class Request:
    """Read in full (head and body) before any application code runs."""

    method: str
    path: str
    query: str
    headers: Message  # case-insensitive .get()
    body: bytes = b""
    keep_alive: bool = True  # the client may send another request on this connection


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    close: bool = False  # close the connection afterwards
    log: dict[str, Any] = field(default_factory=dict)  # extra fields for the access log line

    @classmethod
    def json(cls, status: int, document: Any, **kwargs: Any) -> Response:
        body = json.dumps(document, separators=(",", ":")).encode()
        return cls(status, body, "application/json", **kwargs)

    @classmethod
    def error(cls, status: int, message: str, **kwargs: Any) -> Response:
        return cls.json(status, {"error": message}, **kwargs)


Application = Callable[[Request], Response]
