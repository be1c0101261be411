"""Notifications end to end: the real daemon, real receivers on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from tests.support.cli import Jobctl
from tests.support.receivers import HttpReceiver, http_receiver
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow
SECRET = "hooks/T0P-s3cret"


def _config(
    jc: Jobctl,
    url: str,
    route: str = "{match: {event: dead}, to: [hook]}",
    channel: str = "",
    timeout: str = "1s",
) -> None:
    hook = jc.tmp / "hook.url"
    hook.write_text(f"{url}/{SECRET}\n")
    config = jc.tmp / "config.yaml"
    config.write_text(
        "notify:\n  channels:\n"
        f"    - {{name: hook, webhook: {{url_file: {hook}}}, timeout: {timeout},"
        f" backoff_base: 100ms, backoff_max: 500ms{channel}}}\n"
        f"  routes:\n    - {route}\n"
    )
    jc.env["JOBCTL_CONFIG"] = str(config)


def _fail(jc: Jobctl, name: str = "nightly") -> int:
    return jc.enqueue("--name", name, "--max-attempts", "1", "--", "sh", "-c", "echo boom; exit 3")


def _events(rx: HttpReceiver) -> list[tuple[str, object]]:
    return [(b["event"], b.get("job_id")) for b in rx.bodies()]


def test_a_dead_job_is_delivered_once_and_no_secret_shows(jc: Jobctl) -> None:
    with http_receiver() as rx:
        _config(jc, rx.url)
        jc.start_daemon()
        job = _fail(jc)
        wait_until(lambda: _events(rx), 15, 0.05, "the webhook delivery")
        (delivery,) = wait_until(
            lambda: [d for d in jc.json("notify", "list") if d["state"] == "delivered"], 10
        )
        time.sleep(0.5)  # nothing more may arrive (one event, one route, one channel)
        assert _events(rx) == [("dead", job)]
        assert rx.requests[0].path == f"/{SECRET}"
    assert (delivery["event"], delivery["channel"], delivery["answer"]) == (
        "dead",
        "hook",
        "HTTP 202 ok",
    )
    assert 'jobctl_notifications_total{channel="hook",outcome="delivered"} 1.0' in jc.ok("metrics")
    shown = jc.ok("notify", "show", str(delivery["id"]))
    assert "exit_code" in shown and "boom" in shown
    jc.stop_daemons()
    everything = jc.ok("notify", "list") + shown + jc.ok("audit") + jc.daemon_log()
    everything += jc.ok("config", "show")
    assert "T0P-s3cret" not in everything


def test_over_max_per_is_folded_into_one_digest_when_the_window_ends(jc: Jobctl) -> None:
    with http_receiver() as rx:
        _config(jc, rx.url, "{match: {event: dead}, to: [hook], max_per: 2/4s}")
        jc.start_daemon()
        lines = [
            json.dumps({"command": ["sh", "-c", "exit 3"], "name": f"job-{n}", "max_attempts": 1})
            for n in range(5)
        ]  # one enqueue: the five die within one window
        jobs = [
            int(i) for i in jc.ok("enqueue", "--from", "-", input="\n".join(lines).encode()).split()
        ]
        digest = wait_until(
            lambda: [b for b in rx.bodies() if b["event"] == "digest"], 20, 0.1, "the digest"
        )
        singles = [b["job_id"] for b in rx.bodies() if b["event"] == "dead"]
    assert len(singles) == 2 and len(digest) == 1
    assert sorted(singles + [e["job_id"] for e in digest[0]["events"]]) == jobs
    assert digest[0]["count"] == 3


def test_a_failing_receiver_is_retried_with_backoff_then_delivered(jc: Jobctl) -> None:
    with http_receiver() as rx:
        rx.fail = 3
        _config(jc, rx.url)
        jc.start_daemon()
        job = _fail(jc)
        wait_until(lambda: _events(rx), 20, 0.05, "the delivery after three 500s")
        (d,) = jc.json("notify", "list")
    assert _events(rx) == [("dead", job)]
    assert (d["state"], d["attempts"]) == ("delivered", 4)


def test_a_hanging_receiver_never_holds_up_jobs(jc: Jobctl) -> None:
    with http_receiver() as rx:
        rx.hang = 120
        _config(jc, rx.url, timeout="60s")
        jc.start_daemon()
        _fail(jc)
        wait_until(lambda: jc.json("notify", "list", "--state", "sending"), 15, 0.1, "sending")
        # While the delivery hangs, jobs still run
        ids = [jc.enqueue("--", "true") for _ in range(5)]
        for job_id in ids:
            jc.wait_state(job_id, "succeeded", timeout=30)
        (still,) = jc.json("notify", "list")
        assert (still["state"], still["attempts"]) == ("sending", 1)
        # And once the receiver answers, the delivery completes
        rx.release.set()
        wait_until(lambda: jc.json("notify", "list", "--state", "delivered"), 15, 0.1, "delivered")


def test_delivery_survives_kill_9_of_the_daemon(jc: Jobctl) -> None:
    # Given a receiver that is down when the job dies
    closed = "http://127.0.0.1:9"
    with http_receiver() as rx:
        _config(jc, closed)
        daemon = jc.start_daemon()
        job = _fail(jc)
        wait_until(lambda: jc.json("notify", "list", "--state", "retrying"), 15, 0.1, "a retry")
        # When the daemon is killed -9 and a new one starts with the receiver up
        os.killpg(daemon.pid, signal.SIGKILL)
        daemon.wait(10)
        _config(jc, rx.url)
        jc.start_daemon()
        # Then the event is delivered, once per event id
        wait_until(lambda: _events(rx), 20, 0.1, "delivery after restart")
        time.sleep(0.5)
    ids = {b["id"] for b in rx.bodies()}
    assert _events(rx) == [("dead", job)] and len(ids) == 1


def test_notify_test_reports_the_channel_answer(jc: Jobctl, tmp_path: Path) -> None:
    with http_receiver() as rx:
        _config(jc, rx.url)
        res = jc.run("notify", "test", "hook")
        assert (res.rc, res.out.strip()) == (0, "hook: HTTP 202 ok")
        assert rx.bodies()[0]["event"] == "test"
        rx.fail = 1
        res = jc.run("notify", "test", "hook")
    assert res.rc == 1 and "HTTP 500" in res.err and "s3cret" not in res.err
    missing = jc.run("notify", "test", "nope")
    assert missing.rc == 3 and "no notification channel 'nope'" in missing.err
