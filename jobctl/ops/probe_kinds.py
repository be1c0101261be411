"""One function per dependency probe kind: `(spec, target, now) → Finding`.

Each keeps within `spec.timeout` by itself (socket and subprocess timeouts); the runner
(`ops.probes`) also stops waiting at the deadline. A failure to connect is an exception
the runner reports as FAIL; a kind function returns what it found otherwise.
"""

from __future__ import annotations

import base64
import http.client
import os
import signal
import socket
import ssl
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from jobctl.config.health import HealthConfig
from jobctl.config.probes import ProbeSpec
from jobctl.domain.certs import not_after
from jobctl.domain.durations import iso_z
from jobctl.domain.probes import (
    Verdict,
    days_verdict,
    describe_expected,
    nagios_verdict,
    parse_address,
    plugin_message,
    redact_url,
    shorten,
    status_matches,
)
from jobctl.ops.report import Level
from jobctl.store import pings

BODY_LIMIT = 1024 * 1024  # bytes of an HTTP body searched for `contains`
MAX_REDIRECTS = 5
REDIRECTS = (301, 302, 303, 307, 308)


@dataclass(frozen=True)
class Finding:
    """What a probe found: its verdict, one line for humans, and its figure (None: the
    runner shows the seconds it took)."""

    verdict: Verdict
    message: str
    value: Any = None


Kind = Callable[[ProbeSpec, str, datetime, HealthConfig], Finding]


def postgres(spec: ProbeSpec, url: str, now: datetime, health: HealthConfig) -> Finding:
    server = pings.ping_postgres(url, spec.timeout)
    return Finding(Verdict.OK, f"{server} at {_where(url)}: connected, `select 1` ok")


def mysql(spec: ProbeSpec, url: str, now: datetime, health: HealthConfig) -> Finding:
    server = pings.ping_mysql(url, spec.timeout)
    return Finding(Verdict.OK, f"{server} at {_where(url)}: ping ok")


def redis(spec: ProbeSpec, url: str, now: datetime, health: HealthConfig) -> Finding:
    import redis as driver

    client = driver.Redis.from_url(
        url, socket_timeout=spec.timeout, socket_connect_timeout=spec.timeout
    )
    try:
        client.ping()
    finally:
        client.close()
    return Finding(Verdict.OK, f"Redis at {_where(url)}: PING ok")


def _where(url: str) -> str:
    parts = urlsplit(url)
    if parts.hostname:
        return f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname
    return redact_url(url)


def tcp(spec: ProbeSpec, address: str, now: datetime, health: HealthConfig) -> Finding:
    host, port = parse_address(address, "tcp address")
    with socket.create_connection((host, port), timeout=spec.timeout):
        pass
    return Finding(Verdict.OK, f"connected to {address}")


def tls(spec: ProbeSpec, address: str, now: datetime, health: HealthConfig) -> Finding:
    """Days left on the certificate the server presents (verified only with `verify`)."""
    host, port = parse_address(address, "tls address")
    name = spec.server_name or host
    context = ssl.create_default_context()
    if not spec.verifies:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection((host, port), timeout=spec.timeout) as raw,
        context.wrap_socket(raw, server_hostname=name) as conn,
    ):
        der = conn.getpeercert(binary_form=True)
    if not der:
        return Finding(Verdict.FAIL, f"{address} presented no certificate")
    expires = not_after(der)
    days = round((expires - now).total_seconds() / 86400, 1)
    verdict = days_verdict(days, spec.warn_days, spec.crit_days)
    when = f"expired {-days:g} days ago" if days <= 0 else f"expires in {days:g} days"
    limits = f"warn {spec.warn_days:g}, crit {spec.crit_days:g}"
    return Finding(verdict, f"certificate of {address} {when} ({iso_z(expires)}; {limits})", days)


def http_kind(spec: ProbeSpec, url: str, now: datetime, health: HealthConfig) -> Finding:
    """One request (redirects followed only with follow_redirects): the status must be an
    expected one and the body (its first MiB) must hold `contains`."""
    current, hops = url, 0
    while True:
        status, location, body = _request(spec, current)
        if status in REDIRECTS and location and spec.follow_redirects and hops < MAX_REDIRECTS:
            current, hops = urljoin(current, location), hops + 1
            continue
        break
    shown = redact_url(current)
    if not status_matches(status, spec.status):
        where = f" (redirect to {redact_url(urljoin(current, location))})" if location else ""
        expected = describe_expected(spec.status)
        return Finding(
            Verdict.FAIL, f"{spec.method} {shown}: HTTP {status}, expected {expected}{where}"
        )
    if spec.contains is not None and spec.contains.encode() not in body:
        return Finding(
            Verdict.FAIL, f"{spec.method} {shown}: HTTP {status}, body lacks {spec.contains!r}"
        )
    return Finding(Verdict.OK, f"{spec.method} {shown}: HTTP {status}")


def _request(spec: ProbeSpec, url: str) -> tuple[int, str | None, bytes]:
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        context = ssl.create_default_context()
        if not spec.verifies:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection(host, port, timeout=spec.timeout, context=context)
    else:
        conn = http.client.HTTPConnection(host, port, timeout=spec.timeout)
    headers = {"User-Agent": "jobctl-probe", "Accept": "*/*"}
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request(spec.method, path, headers=headers)
        response = conn.getresponse()
        body = b"" if spec.method == "HEAD" else response.read(BODY_LIMIT)
        return response.status, response.getheader("Location"), body
    finally:
        conn.close()


def command(spec: ProbeSpec, _target: str, now: datetime, health: HealthConfig) -> Finding:
    """Run the argv (its own session, stdin closed); its exit code as Nagios reads it and
    its first output line. Past the timeout its whole process group is killed."""
    try:
        proc = subprocess.Popen(
            spec.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        return Finding(Verdict.FAIL, f"cannot run {spec.argv[0]}: {reason}")
    try:
        out, err = proc.communicate(timeout=spec.timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        return Finding(Verdict.FAIL, f"{spec.argv[0]} timed out after {spec.timeout:g}s")
    text = plugin_message(out.decode(errors="replace"), err.decode(errors="replace"))
    code = proc.returncode
    if code < 0:
        return Finding(Verdict.FAIL, f"{spec.argv[0]} killed by signal {-code}")
    verdict = nagios_verdict(code)
    return Finding(verdict, shorten(f"exit {code}: {text}" if text else f"exit {code}"), code)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        proc.kill()
    proc.communicate()


def disk(spec: ProbeSpec, path: str, now: datetime, health: HealthConfig) -> Finding:
    """Free space at `path`, as jobctl's own disk probe rates the DB's volume."""
    from jobctl.ops.health import probe_disk

    floor = spec.min_free or health.min_free_disk
    found = probe_disk(Path(path, "probe"), replace(health, min_free_disk=floor))  # its parent
    verdict = {Level.OK: Verdict.OK, Level.WARNING: Verdict.WARN}.get(found.status, Verdict.FAIL)
    return Finding(verdict, found.message, found.value)


KINDS: dict[str, Kind] = {
    "postgres": postgres,
    "mysql": mysql,
    "redis": redis,
    "tcp": tcp,
    "tls": tls,
    "http": http_kind,
    "command": command,
    "disk": disk,
}
