"""Each channel against a real receiver on 127.0.0.1: what arrives, what a failure says,
and that no secret ever shows in an answer or an error."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from jobctl.config.notify import Channel
from jobctl.domain.notify import Backoff, Event
from jobctl.ops.notify.channels import Outgoing, SendFailed, send
from tests.support.receivers import http_receiver, smtp_receiver

T0 = datetime(2030, 1, 1, 3, 0, tzinfo=UTC)
SECRET = "s3cr3t-T0KEN"


def _dead(kind: str = "dead", **extra: object) -> Event:
    body = {
        "subject": "schedule:nightly", "schedule": "nightly", "job_id": 42, "attempt": 3,
        "max_attempts": 3, "queue": "bulk", "node": "host-a", "exit_code": 3,
        "failure_class": "exit", "error": "exited with code 3", "command": ["/bin/report"],
        "output_tail": "starting\nconnecting to db\nERROR: no such table\n", "streak": 1,
    }  # fmt: skip
    return Event(7, kind, T0, {**body, **extra})


def _secret_file(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text + "\n")
    return str(path)


def test_a_json_webhook_posts_the_event(tmp_path: Path) -> None:
    with http_receiver() as rx:
        url = _secret_file(tmp_path, "hook", f"{rx.url}/hook/{SECRET}")
        answer = send(Channel("w", "webhook", url_file=url), Outgoing(_dead()))
        (body,) = rx.bodies()
    assert answer.startswith("HTTP 202")
    assert (body["event"], body["job_id"], body["exit_code"]) == ("dead", 42, 3)
    assert rx.requests[0].path == f"/hook/{SECRET}"
    assert body["summary"] == "dead: schedule nightly (job 42, exit 3) on host-a"


def test_slack_format_is_text(tmp_path: Path) -> None:
    with http_receiver() as rx:
        url = _secret_file(tmp_path, "hook", rx.url)
        send(Channel("s", "webhook", url_file=url, format="slack"), Outgoing(_dead()))
        (body,) = rx.bodies()
    assert set(body) == {"text"} and "ERROR: no such table" in body["text"]


def test_pagerduty_triggers_and_resolves_with_one_dedup_key(tmp_path: Path) -> None:
    key = _secret_file(tmp_path, "pd.key", SECRET)
    with http_receiver() as rx:
        channel = Channel("pd", "pagerduty", url=rx.url + "/v2/enqueue", routing_key_file=key)
        send(channel, Outgoing(_dead(severity="page")))
        send(channel, Outgoing(_dead("recovered", streak=2)))
        trigger, resolve = rx.bodies()
    assert (trigger["event_action"], resolve["event_action"]) == ("trigger", "resolve")
    assert trigger["dedup_key"] == resolve["dedup_key"] == "jobctl/schedule:nightly"
    assert trigger["routing_key"] == SECRET and trigger["payload"]["severity"] == "critical"


def test_a_refusing_webhook_fails_without_showing_its_url(tmp_path: Path) -> None:
    with http_receiver() as rx:
        rx.fail = 1
        url = _secret_file(tmp_path, "hook", f"{rx.url}/hook/{SECRET}")
        with pytest.raises(SendFailed) as failed:
            send(Channel("w", "webhook", url_file=url), Outgoing(_dead()))
    assert str(failed.value) == "HTTP 500"
    closed = _secret_file(tmp_path, "hook2", f"http://127.0.0.1:9/hook/{SECRET}")
    with pytest.raises(SendFailed) as unreachable:
        send(Channel("w", "webhook", url_file=closed), Outgoing(_dead()))
    assert "cannot reach http://127.0.0.1:9" in str(unreachable.value)
    assert SECRET not in str(unreachable.value) + str(failed.value)


def test_a_hanging_receiver_times_out(tmp_path: Path) -> None:
    with http_receiver() as rx:
        rx.hang = 30
        url = _secret_file(tmp_path, "hook", rx.url)
        started = time.monotonic()
        with pytest.raises(SendFailed, match=r"within 0\.5s"):
            send(Channel("w", "webhook", url_file=url, timeout=0.5), Outgoing(_dead()))
        assert time.monotonic() - started < 10


def test_email_over_starttls_with_auth_says_what_where_when_and_how_to_look(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with smtp_receiver(tmp_path, tls=True, password=SECRET) as box:
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "smtp.crt"))
        channel = Channel(
            "m", "email", to=("ops@example.com",), sender="jobctl@example.com",
            smtp=f"smtp://127.0.0.1:{box.port}", username="jobctl",
            password_file=_secret_file(tmp_path, "pw", SECRET),
        )  # fmt: skip
        answer = send(channel, Outgoing(_dead()))
        (mail,) = box.messages
    assert answer.startswith("250")
    assert box.logins == [("jobctl", SECRET)]
    assert mail["Subject"] == "[jobctl] dead: schedule nightly (job 42, exit 3) on host-a"
    text = mail.get_payload()
    for expected in ("What: /bin/report", "Where: host-a", "Exit code: 3",
                     "ERROR: no such table", "jobctl show 42"):  # fmt: skip
        assert expected in text


def test_email_refuses_to_send_a_password_in_clear(tmp_path: Path) -> None:
    with smtp_receiver(tmp_path) as box:
        channel = Channel(
            "m", "email", to=("ops@example.com",), smtp=f"smtp://127.0.0.1:{box.port}",
            password_file=_secret_file(tmp_path, "pw", SECRET),
        )  # fmt: skip
        with pytest.raises(SendFailed, match="no STARTTLS: not sending a password"):
            send(channel, Outgoing(_dead()))
        assert box.messages == []


def test_exec_gets_the_event_on_stdin_and_in_its_environment(tmp_path: Path) -> None:
    script = tmp_path / "hook.sh"
    script.write_text(
        f"#!/bin/sh\ncat > {tmp_path}/stdin.json\nenv > {tmp_path}/env.txt\necho got it\n"
    )
    script.chmod(0o755)
    answer = send(Channel("x", "exec", argv=(str(script),)), Outgoing(_dead()))
    assert answer == "exit 0 got it"
    assert json.loads((tmp_path / "stdin.json").read_text())["job_id"] == 42
    env = (tmp_path / "env.txt").read_text()
    assert "JOBCTL_EVENT_EVENT=dead" in env and "JOBCTL_EVENT_SCHEDULE=nightly" in env


def test_a_failing_exec_reports_its_exit_and_output(tmp_path: Path) -> None:
    channel = Channel("x", "exec", argv=("/bin/sh", "-c", "echo nope; exit 4"),
                      backoff=Backoff())  # fmt: skip
    with pytest.raises(SendFailed, match="exited 4") as failed:
        send(channel, Outgoing(_dead()))
    assert failed.value.answer == "nope"


def test_a_digest_carries_every_folded_event(tmp_path: Path) -> None:
    with http_receiver() as rx:
        url = _secret_file(tmp_path, "hook", rx.url)
        folded = (_dead(), _dead(job_id=43), _dead("missed"))
        send(Channel("w", "webhook", url_file=url), Outgoing(None, "pages", folded))
        (body,) = rx.bodies()
    assert (body["event"], body["count"], body["route"]) == ("digest", 3, "pages")
    assert body["summary"] == "digest: 3 more events on route pages (2 dead, 1 missed)"
