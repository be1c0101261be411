"""Config `enabled` and `shadow_mode` with the real daemon: disabled, a daemon stays up,
claims nothing and records its fires as `disabled`; `status` and `health` say so; a reload
turns it back on. Under shadow_mode, a schedule that does not set `shadow` only records its
fires until promoted."""

from __future__ import annotations

import signal

import pytest

from tests.support.cli import Jobctl
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow


def _config(jc: Jobctl, text: str) -> None:
    (jc.tmp / "config.yaml").write_text(text)
    jc.env["JOBCTL_CONFIG"] = str(jc.tmp / "config.yaml")


def test_disabled_by_config_the_daemon_stays_up_claims_nothing_and_says_so(jc: Jobctl) -> None:
    # Given `enabled: false`, a per-second schedule and a queued job
    _config(jc, "enabled: false\nqueues: [{name: default}]\n")
    jc.ok("schedule", "add", "tick", "--cron", "* * * * * *", "--", "true")
    job_id = jc.enqueue("--", "true")
    # When a burst daemon runs, it exits at once and claims nothing
    assert jc.run("daemon", "--burst").rc == 0
    assert jc.show(job_id)["state"] == "queued"
    # When a daemon serves
    daemon = jc.start_daemon()
    missed = wait_until(
        lambda: (
            (rows := jc.json("schedule", "missed", "tick"))
            and any(r["reason"] == "disabled" for r in rows)
            and rows
        ),
        20,
        0.2,
        "fires recorded while disabled",
    )
    # Then its fires are recorded as disabled (those between the burst daemon's exit and this
    # one's start, on a slow machine, as no_daemon), the job waits, and status and health say why
    assert {r["reason"] for r in missed} <= {"disabled", "no_daemon"}, missed
    assert jc.show(job_id)["state"] == "queued" and daemon.poll() is None
    assert [j for j in jc.json("list") if j["schedule"] == "tick"] == []
    assert "disabled by config" in jc.ok("status")
    assert jc.json("status")["enabled"] is False
    health = jc.run("health")
    assert health.rc == 1 and "disabled by config" in health.out, health
    # When the config is turned back on and reloaded, the job runs
    _config(jc, "enabled: true\nqueues: [{name: default}]\n")
    daemon.send_signal(signal.SIGHUP)
    jc.wait_state(job_id, "succeeded")
    assert "disabled by config" not in jc.ok("status")


def test_shadow_mode_shadows_schedules_that_do_not_set_it_until_promoted(jc: Jobctl) -> None:
    # Given shadow_mode on, a schedule without --shadow and one with --no-shadow
    _config(jc, "shadow_mode: {enabled: true}\n")
    jc.ok("schedule", "add", "unset", "--cron", "* * * * * *", "--overlap", "allow", "--", "true")
    argv = ("--cron", "* * * * * *", "--overlap", "allow", "--no-shadow", "--", "true")
    jc.ok("schedule", "add", "active", *argv)
    shapes = {s["name"]: s for s in jc.json("schedule", "list")}
    assert (shapes["unset"]["shadow"], shapes["active"]["shadow"]) == (True, False)
    # When the daemon runs
    jc.start_daemon()

    def reasons() -> set[str]:
        return {r["reason"] for r in jc.json("schedule", "missed", "unset")}

    wait_until(  # no_daemon: a fire between `schedule add` and the daemon's start
        lambda: (
            "shadow" in (found := reasons())
            and found <= {"shadow", "no_daemon"}
            and any(j["schedule"] == "active" for j in jc.json("list"))
        ),
        20,
        0.2,
        "a shadow fire and an active run",
    )
    # Then only the explicit one ran; promoting the other makes it run from now on
    assert not any(j["schedule"] == "unset" for j in jc.json("list"))
    jc.ok("schedule", "promote", "unset")
    assert jc.json("schedule", "show", "unset")["shadow"] is False
    wait_until(
        lambda: any(j["schedule"] == "unset" for j in jc.json("list")), 20, 0.2, "promoted run"
    )
