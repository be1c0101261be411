"""Dependency probes as values: what a probe's answer means (Nagios plugin exit codes,
certificate days left, HTTP status), their targets' syntax, and hiding the secrets in them.

Pure: no I/O, no clock. A probe's `Verdict` is independent of its configured level; the
runner turns FAIL into the probe's level (CRITICAL, or WARNING for `level: warning`).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from urllib.parse import SplitResult, parse_qsl, quote, unquote, urlencode, urlsplit

from jobctl.domain.audit import is_secret_name
from jobctl.domain.digits import parse_digits
from jobctl.errors import InvalidInput

HIDDEN = "***"
MESSAGE_MAX = 300  # characters of a probe's message (a plugin's first output line)


class Verdict(StrEnum):
    """What one probe found: OK, WARN (a threshold crossed, the target still answers),
    FAIL (the dependency is not usable: counted at the probe's level), UNKNOWN (the probe
    could not tell: misconfigured, a missing secret or driver, a plugin's exit 3)."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    UNKNOWN = "unknown"

    @property
    def up(self) -> bool:
        """Whether the dependency answered as expected (`jobctl_probe_up`)."""
        return self in (Verdict.OK, Verdict.WARN)


def nagios_verdict(code: int) -> Verdict:
    """A plugin's exit code, as Nagios reads it: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    Any other code (a command that is no plugin: 127 not found, 5 …) is a failure."""
    return {0: Verdict.OK, 1: Verdict.WARN, 2: Verdict.FAIL, 3: Verdict.UNKNOWN}.get(
        code, Verdict.FAIL
    )


def plugin_message(stdout: str, stderr: str = "") -> str:
    """A plugin's status text: the first line of its output, perfdata (after `|`) dropped;
    its stderr's first line when it printed nothing."""
    for text in (stdout, stderr):
        for line in text.splitlines():
            shown = line.split("|", 1)[0].strip()
            if shown:
                return shorten(shown)
    return ""


def shorten(text: str, limit: int = MESSAGE_MAX) -> str:
    """One line of at most `limit` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def days_verdict(days_left: float, warn_days: float, crit_days: float) -> Verdict:
    """A certificate with `days_left`: expired or at most `crit_days` left FAIL, at most
    `warn_days` WARN, else OK."""
    if days_left <= 0 or days_left <= crit_days:
        return Verdict.FAIL
    return Verdict.WARN if days_left <= warn_days else Verdict.OK


def status_matches(status: int, expected: Sequence[int]) -> bool:
    """An HTTP status against the expected ones (none given: any 2xx)."""
    return status in expected if expected else 200 <= status < 300


def describe_expected(expected: Sequence[int]) -> str:
    return " or ".join(str(s) for s in expected) if expected else "2xx"


def parse_address(text: str, what: str = "address") -> tuple[str, int]:
    """`HOST:PORT` (`[::1]:PORT` for IPv6) → (host, port); InvalidInput naming the value."""
    value = str(text).strip()
    host, sep, port_text = value.rpartition(":")
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    port = parse_digits(port_text.strip(), 5)
    if not sep or not host or port is None or not 0 < port <= 65535:
        raise InvalidInput(f"invalid {what} {text!r}: use HOST:PORT (port 1-65535)")
    return host, port


URL_SCHEMES = {
    "postgres": ("postgres", "postgresql"),
    "redis": ("redis", "rediss", "unix"),
    "mysql": ("mysql", "mariadb"),
    "http": ("http", "https"),
}


def check_url(kind: str, url: str, shown: str | None = None) -> SplitResult:
    """A `kind` probe's URL, parsed; InvalidInput naming it as `shown` (default: the URL
    with its password hidden: a URL from a secret file is named by its file instead)."""
    name = shown if shown is not None else repr(redact_url(url))
    schemes = URL_SCHEMES[kind]
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018  (raises ValueError for a bad port)
    except ValueError as exc:
        raise InvalidInput(f"invalid {kind} URL {name}: {exc}") from None
    if parts.scheme not in schemes:
        raise InvalidInput(f"invalid {kind} URL {name}: use {'://, '.join(schemes)}://…")
    if kind == "http" and not parts.hostname:
        raise InvalidInput(f"invalid {kind} URL {name}: no host")
    if kind == "redis" and parts.scheme != "unix" and not parts.hostname:
        raise InvalidInput(f"invalid {kind} URL {name}: no host")
    return parts


def redact_url(url: str) -> str:
    """`url` with its secrets shown as ***: the password of its user part, and query
    parameters with a secret-looking name (`?password=`, `?token=`); anything that is no
    URL is returned as it is."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url
    if password is not None:
        user, _, host = parts.netloc.rpartition("@")
        parts = parts._replace(netloc=f"{user.split(':', 1)[0]}:{HIDDEN}@{host}")
    if parts.query:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        if any(is_secret_name(k) for k, _ in pairs):
            shown = [(k, HIDDEN if is_secret_name(k) else v) for k, v in pairs]
            parts = parts._replace(query=urlencode(shown, safe="*/:"))
    return parts.geturl()


def secrets_in(url: str) -> list[str]:
    """The secret parts of `url` (its password, secret query parameters; as written and
    decoded) that must never appear in output: a driver's error may quote them."""
    try:
        parts = urlsplit(url)
        found = [parts.password or ""]
    except ValueError:
        return []
    found += [v for k, v in parse_qsl(parts.query, keep_blank_values=True) if is_secret_name(k)]
    variants = {form for s in found if s for form in (s, unquote(s), quote(s, safe=""))}
    return sorted(variants, key=len, reverse=True)


def scrub(text: str, secrets: Sequence[str]) -> str:
    """`text` with every secret replaced by ***."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, HIDDEN)
    return text
