"""Sending one delivery through a channel: webhook (json, slack, pagerduty), PagerDuty,
email (SMTP with STARTTLS and auth, or the local sendmail) and exec. Each send has its own
timeout, returns the channel's answer or raises SendFailed; secrets are read from their
files here and scrubbed from every message that leaves.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import urlsplit

from jobctl.config.notify import Channel, read_secret
from jobctl.domain.notify import Event
from jobctl.errors import JobctlError
from jobctl.ops.notify import message

OUTPUT_CAP = 512  # bytes of a channel's answer kept (HTTP body, exec output)


class SendFailed(JobctlError):
    """The channel did not take the notification; `answer` is what it said, if anything."""

    def __init__(self, reason: str, answer: str | None = None):
        self.answer = answer
        super().__init__(reason)


@dataclass(frozen=True)
class Outgoing:
    """What to send: one event, or a digest of a route's folded events."""

    event: Event | None
    route: str | None = None
    folded: tuple[Event, ...] = ()

    @property
    def digest(self) -> dict[str, Any] | None:
        return None if self.event else message.digest_document(self.route, self.folded)

    def document(self) -> dict[str, Any]:
        return message.document(self.event) if self.event else message.digest_document(
            self.route, self.folded
        )  # fmt: skip


def send(channel: Channel, outgoing: Outgoing) -> str:
    """Send; the channel's answer (`HTTP 202`, `250 OK`, `exit 0`). SendFailed when it
    refused, failed or timed out; its text never holds a secret."""
    secrets: list[str] = []
    try:
        return _SENDERS[channel.kind](channel, outgoing, secrets)
    except SendFailed as exc:
        raise SendFailed(scrub(str(exc), secrets), scrub(exc.answer, secrets)) from None
    except JobctlError as exc:
        raise SendFailed(scrub(str(exc), secrets)) from None
    except (OSError, ValueError) as exc:
        raise SendFailed(scrub(f"{type(exc).__name__}: {exc}", secrets)) from None


def scrub(text: str | None, secrets: Sequence[str]) -> str:
    """`text` with every secret (and a URL's path and query after the host) masked."""
    out = text or ""
    for secret in secrets:
        if secret:
            out = out.replace(secret, "***")
    return out


def _secret(path: str, secrets: list[str]) -> str:
    value = read_secret(path)
    secrets.append(value)
    return value


def _http_post(url: str, body: Any, timeout: float) -> str:
    import urllib.error
    import urllib.request

    data = json.dumps(body, default=str).encode()
    request = urllib.request.Request(
        url, data=data, method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "jobctl"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            text = response.read(OUTPUT_CAP).decode("utf-8", "replace")
            return f"HTTP {response.status}" + (f" {text.strip()}" if text.strip() else "")
    except urllib.error.HTTPError as exc:
        text = exc.read(OUTPUT_CAP).decode("utf-8", "replace").strip()
        raise SendFailed(f"HTTP {exc.code}", f"HTTP {exc.code} {text}".strip()) from None
    except urllib.error.URLError as exc:
        raise SendFailed(f"cannot reach {_host(url)}: {exc.reason}") from None
    except TimeoutError:
        raise SendFailed(f"no answer from {_host(url)} within {timeout:g}s") from None


def _host(url: str) -> str:
    """Where a URL points, without its path (a webhook URL's path is its secret)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


def _webhook(channel: Channel, outgoing: Outgoing, secrets: list[str]) -> str:
    url = _secret(channel.url_file or "", secrets)
    if channel.format == "slack":
        if outgoing.event is not None:
            body = message.slack(message.summary(outgoing.event), message.tail(outgoing.event, 10))
        else:
            digest = outgoing.digest or {}
            body = message.slack(digest["summary"], [e["summary"] for e in digest["events"]])
    elif channel.format == "pagerduty":
        key = _secret(channel.routing_key_file or "", secrets)
        body = message.pagerduty(outgoing.event, key, outgoing.digest)
    else:
        body = outgoing.document()
    return _http_post(url, body, channel.timeout)


def _pagerduty(channel: Channel, outgoing: Outgoing, secrets: list[str]) -> str:
    key = _secret(channel.routing_key_file or "", secrets)
    body = message.pagerduty(outgoing.event, key, outgoing.digest)
    return _http_post(channel.url or "", body, channel.timeout)


def _email(channel: Channel, outgoing: Outgoing, secrets: list[str]) -> str:
    subject, text = message.email(outgoing.event, outgoing.digest)
    mail = EmailMessage()
    mail["Subject"] = subject.replace("\n", " ")[:200]
    mail["From"] = channel.sender or f"jobctl@{os.uname().nodename}"
    mail["To"] = ", ".join(channel.to)
    mail["Date"] = formatdate(localtime=True)
    mail["Message-ID"] = make_msgid("jobctl")
    mail.set_content(text)
    if channel.smtp is None:
        return _sendmail(channel, mail)
    import smtplib
    import ssl

    parts = urlsplit(channel.smtp)
    password = _secret(channel.password_file, secrets) if channel.password_file else None
    port = parts.port or (465 if parts.scheme == "smtps" else 25)
    context = ssl.create_default_context()
    try:
        if parts.scheme == "smtps":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                parts.hostname or "", port, timeout=channel.timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(parts.hostname or "", port, timeout=channel.timeout)
        with smtp:
            smtp.ehlo()
            tls = channel.starttls
            if parts.scheme == "smtp" and (tls or (tls is None and smtp.has_extn("starttls"))):
                smtp.starttls(context=context)
                smtp.ehlo()
            elif parts.scheme == "smtp" and password and tls is not False:
                raise SendFailed(f"{parts.hostname} offers no STARTTLS: not sending a password")
            if password:
                smtp.login(channel.username or mail["From"], password)
            refused = smtp.send_message(mail)
            code, answer = smtp.noop()
    except smtplib.SMTPResponseException as exc:
        text = (
            exc.smtp_error.decode("utf-8", "replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        raise SendFailed(f"SMTP {exc.smtp_code} {text}", f"{exc.smtp_code} {text}") from None
    except smtplib.SMTPException as exc:
        raise SendFailed(f"SMTP: {exc}") from None
    except TimeoutError:
        raise SendFailed(f"no answer from {parts.hostname} within {channel.timeout:g}s") from None
    if refused:
        raise SendFailed(f"recipients refused: {', '.join(refused)}")
    return f"{code} {answer.decode('utf-8', 'replace')}"


def _sendmail(channel: Channel, mail: EmailMessage) -> str:
    argv = [channel.sendmail, "-t", "-oi"]
    try:
        done = subprocess.run(
            argv, input=mail.as_bytes(), capture_output=True, timeout=channel.timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise SendFailed(f"{channel.sendmail} did not finish within {channel.timeout:g}s") from None
    if done.returncode != 0:
        said = (done.stderr or done.stdout)[:OUTPUT_CAP].decode("utf-8", "replace").strip()
        raise SendFailed(f"{channel.sendmail} exited {done.returncode}: {said}")
    return f"{channel.sendmail}: exit 0"


def event_env(document: dict[str, Any]) -> dict[str, str]:
    """JOBCTL_EVENT_* variables of an event (its scalar fields), for exec channels."""
    env = {}
    for key, value in document.items():
        if value is None or isinstance(value, dict | list):
            continue
        name = "JOBCTL_EVENT_" + "".join(c if c.isalnum() else "_" for c in key).upper()
        env[name] = str(value)[:4096]
    return env


def _exec(channel: Channel, outgoing: Outgoing, secrets: list[str]) -> str:
    document = outgoing.document()
    env = {**os.environ, **event_env(document)}
    try:
        proc = subprocess.Popen(
            list(channel.argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
    except OSError as exc:
        raise SendFailed(f"cannot run {channel.argv[0]}: {exc.strerror}") from None
    try:
        out, _ = proc.communicate(json.dumps(document, default=str).encode(), channel.timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise SendFailed(f"{channel.argv[0]} did not finish within {channel.timeout:g}s") from None
    said = out[-OUTPUT_CAP:].decode("utf-8", "replace").strip()
    if proc.returncode != 0:
        raise SendFailed(f"{channel.argv[0]} exited {proc.returncode}", said or None)
    return "exit 0" + (f" {said}" if said else "")


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


_SENDERS = {"webhook": _webhook, "pagerduty": _pagerduty, "email": _email, "exec": _exec}
