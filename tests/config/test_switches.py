"""The existing scheduler's `config/scheduler.yaml` loads unchanged (YAML and TOML), with its
top-level `enabled` and `shadow_mode`; bad values are problems with their line."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobctl.config.check import check_config, load_config
from jobctl.config.switches import ShadowMode
from jobctl.domain.retry import Backoff
from tests.config.test_config import SPEC_CONFIG

# SPEC "Config": the queues + shadow_mode block, and that file's other top-level key.
SCHEDULER_YAML = "enabled: true\n" + SPEC_CONFIG[SPEC_CONFIG.index("queues:") :]

SCHEDULER_TOML = """\
enabled = true
shadow_mode = {enabled = true, sampling_percent = 25}

[[queues]]
name = "critical"
concurrency = 10
retry_policy = {max_attempts = 5, backoff = "exponential"}

[[queues]]
name = "bulk"
concurrency = 4
retry_policy = {max_attempts = 3, backoff = "fixed", base = "10s", max = "1h", jitter = "full"}
max_depth = 10000
shed = "defer"
rate_limit = "20/s per tenant"
"""


@pytest.mark.parametrize(
    "name,text", [("scheduler.yaml", SCHEDULER_YAML), ("scheduler.toml", SCHEDULER_TOML)]
)
def test_the_existing_schedulers_config_loads_unchanged(
    tmp_path: Path, name: str, text: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    config = load_config(path)
    assert config.enabled is True
    assert config.shadow_mode == ShadowMode(enabled=True, sampling_percent=25)
    assert [q.name for q in config.queues] == ["critical", "bulk"]
    bulk = config.queue("bulk")
    assert bulk and bulk.retry and bulk.retry.backoff is Backoff.FIXED and bulk.max_depth == 10000
    assert bulk.rate_limit == "20/s per tenant"


def test_defaults_are_enabled_without_shadow_mode(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("queues: [{name: a}]\n")
    config = load_config(path)
    assert config.enabled is True and config.shadow_mode == ShadowMode(False, 100)
    path.write_text("enabled: false\nshadow_mode: {enabled: true}\n")
    config = load_config(path)
    assert config.enabled is False and config.shadow_mode == ShadowMode(True, 100)


def test_bad_switch_values_are_listed_with_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "enabled: sometimes\nshadow_mode:\n  enabled: 1\n  sampling_percent: 0\n  sample: 5\n"
    )
    _config, problems = check_config(path)
    assert problems == [
        f"{path}:1: enabled must be true or false, got 'sometimes'",
        f"{path}:3: enabled must be true or false, got 1",
        f"{path}:4: invalid sampling_percent 0: a whole number from 1 to 100",
        f"{path}:5: unknown shadow_mode key 'sample'",
    ]  # in file order
