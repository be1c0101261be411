"""The optional `health:` config section: defaults, validation with file:line problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobctl.config.check import check_config
from jobctl.config.health import HealthConfig, parse_free_disk
from jobctl.errors import InvalidInput


def test_without_a_health_section_the_defaults_apply(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("queues:\n  - name: mail\n")
    config, problems = check_config(path)
    assert problems == [] and config.health == HealthConfig()


def test_health_thresholds_are_read_and_typed(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "health:\n  warn_lag: 2m\n  max_lag: 10m\n  max_depth: 500\n"
        "  min_free_disk: 10%\n  schedule_grace: 30s\n  max_heartbeat_age: 45s\n"
    )
    config, problems = check_config(path)
    assert problems == []
    h = config.health
    assert (h.warn_lag, h.max_lag, h.max_depth, h.schedule_grace) == (120.0, 600.0, 500, 30.0)
    assert (h.min_free_disk.percent, h.max_heartbeat_age) == (10.0, 45.0)


def test_bad_health_values_are_problems_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "health:\n  max_lag: soon\n  nope: 1\n  warn_depth: -1\n  min_free_disk: lots\n"
    )
    _, problems = check_config(path)
    assert len(problems) == 4, problems
    assert any(f"{path}:2:" in p and "soon" in p for p in problems)
    assert any(f"{path}:3:" in p and "nope" in p for p in problems)
    assert any(f"{path}:5:" in p and "lots" in p for p in problems)


def test_free_disk_sizes_and_percentages() -> None:
    assert parse_free_disk("500MiB").size == 500 * 1024**2
    assert parse_free_disk("2G").size == 2 * 1024**3
    assert parse_free_disk("5%").floor(1000) == 50
    for bad in ("lots", "120%", "-1G"):
        with pytest.raises(InvalidInput, match="min-free-disk"):
            parse_free_disk(bad)
