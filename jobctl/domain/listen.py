"""`HOST:PORT`, `:PORT` or `PORT` (bare forms bind 127.0.0.1); `[::1]:PORT` for IPv6."""

from __future__ import annotations

from jobctl.domain.digits import parse_digits
from jobctl.errors import InvalidInput

DEFAULT_HOST = "127.0.0.1"


def parse_listen(text: str | int, what: str = "--http") -> tuple[str, int]:
    """The (host, port) to bind; InvalidInput naming the bad value. Port 0: ephemeral."""
    value = str(text).strip()
    host, sep, port_text = value.rpartition(":")
    if not sep:
        host, port_text = "", value
    host = host.strip("[]") or DEFAULT_HOST
    port = parse_digits(port_text.strip(), 5)
    if port is None or not 0 <= port <= 65535:
        raise InvalidInput(f"invalid {what} {text!r}: use HOST:PORT, :PORT or PORT (0-65535)")
    return host, port


def format_addr(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
