"""`@reboot` with real daemons: it fires once per boot of the node (its boot id), however
many times daemons start; an imported (shadow) or paused one never runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import Jobctl
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow


def _runs(jc: Jobctl, schedule: str) -> list[dict]:
    return [j for j in jc.json("list") if j["schedule"] == schedule]


def test_reboot_fires_once_per_boot_whatever_daemons_start(jc: Jobctl, tmp_path: Path) -> None:
    # Given an imported @reboot line (shadow by default), an active one and a paused one
    marks = {name: tmp_path / f"{name}.ran" for name in ("shadow", "active", "paused")}
    crontab = tmp_path / "crontab"
    crontab.write_text(f"@reboot echo x >> {marks['shadow']}\n")
    jc.ok("schedule", "import", str(crontab))
    for name in ("active", "paused"):
        argv = ("--cron", "@reboot", "--overlap", "allow")
        jc.ok("schedule", "add", name, *argv, "--", "sh", "-c", f"echo x >> {marks[name]}")
    jc.ok("schedule", "pause", "paused")
    # When a daemon starts three times in this boot, the last time with a second one beside it
    for starts in (1, 1, 2):
        for index in range(starts):
            jc.start_daemon("--node", f"node-{index}")
        for index in range(len(jc.daemons) - starts, len(jc.daemons)):  # past its @reboot fires
            wait_until(lambda i=index: "daemon.started" in jc.daemon_log(i), 15, 0.1, "started")
        wait_until(lambda: _runs(jc, "active"), 15, 0.1, "the @reboot run")
        jc.stop_daemons()
    # Then the active one ran once; the shadow and the paused one never ran
    (run,) = _runs(jc, "active")
    assert run["state"] == "succeeded" and marks["active"].read_text() == "x\n"
    assert not marks["shadow"].exists() and not marks["paused"].exists()
    ledger = {r["schedule"]: r["reason"] for r in jc.json("schedule", "missed")}
    assert len(jc.json("schedule", "missed")) == 2, "one fire each for this boot"
    assert ledger == {next(iter(_imported(jc))): "shadow", "paused": "paused"}


def _imported(jc: Jobctl) -> list[str]:
    return [s["name"] for s in jc.json("schedule", "list") if s["name"].startswith("cron-")]
