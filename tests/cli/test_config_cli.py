"""`config show` and `config check` in-process: what show prints, check accepts; check lists
every problem of a config in one pass."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import run_main
from tests.support.configs import EVERY_SECTION


@pytest.fixture(autouse=True)
def _db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = tmp_path / "state" / "jobctl.db"
    monkeypatch.setenv("JOBCTL_DB", str(db))
    return db


def test_what_config_show_prints_passes_config_check(tmp_path: Path, _db: Path) -> None:
    # Given a config with a retry_policy (and every other section)
    config = tmp_path / "config.yaml"
    config.write_text(EVERY_SECTION)
    # When `config show > shown.yaml && config check shown.yaml`
    shown = run_main("--config", str(config), "config", "show")
    assert shown.rc == 0, shown
    (tmp_path / "shown.yaml").write_text(shown.out)
    checked = run_main("config", "check", str(tmp_path / "shown.yaml"))
    # Then both succeed, and neither created a database
    assert (checked.rc, checked.out.strip()) == (0, f"{tmp_path / 'shown.yaml'}: ok"), checked
    assert not _db.parent.exists()


def test_config_show_json_is_the_effective_config_object(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("queues:\n  - name: bulk\n    retry_policy: {backoff: fixed}\n")
    res = run_main("--config", str(config), "config", "show", "-o", "json")
    data = json.loads(res.out)
    assert data["queues"][0]["retry_policy"]["backoff"] == "fixed"
    assert data["daemon"]["lease"] == 30.0 and data["strict_queues"] is True


def test_config_check_lists_every_problem_in_one_pass(tmp_path: Path) -> None:
    # Given a config with four problems, two of them in one schedule entry
    config = tmp_path / "bad.yaml"
    config.write_text(
        "queues:\n"
        "  - name: bulk\n"
        "    retry_policy:\n"
        "      backoff: sometimes\n"
        "      base: 5mins\n"
        "schedules:\n"
        "  - name: nightly\n"
        "    cron: '0 2 * * *'\n"
        "    tz: Mars/Olympus\n"
        "    command: true\n"
    )
    # When it is checked once
    res = run_main("config", "check", str(config))
    # Then each problem is listed at its own line, in file order, and the exit code is 2
    assert res.rc == 2
    assert res.err.splitlines() == [
        f"jobctl: error: {config}:4: invalid backoff 'sometimes': use exponential, fixed or linear",
        f"jobctl: error: {config}:5: invalid base '5mins': use e.g. 500ms, 30s, 5m, 2h, 1d, "
        "1h30m or seconds",
        f"jobctl: error: {config}:9: schedule 'nightly': unknown time zone 'Mars/Olympus': "
        "use an IANA name like Europe/Berlin",
        f"jobctl: error: {config}:10: schedule 'nightly': invalid command True: give an argv "
        "list or a string",
    ]
