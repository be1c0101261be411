"""`config show`: the effective config is plain data in a config file's shape, so that what
it prints loads again as the same config (YAML, JSON, and from TOML input)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml

from jobctl.config.check import SECTIONS, check_config, load_config
from jobctl.config.effective import config_data
from jobctl.config.model import Config
from tests.support.configs import EVERY_SECTION

EVERY_SECTION_TOML = """\
durability = "fast"
log_cap = "1MiB"
non_retryable_exit_codes = [3]

[[queues]]
name = "bulk"
concurrency = 2
retry_policy = { max_attempts = 3, backoff = "exponential", base = "5s" }

[[job_types]]
name = "sh"
command = "echo hi | wc -c"
shell = true

[[schedules]]
name = "hourly"
cron = "0 * * * *"
tz = "UTC"
command = ["/bin/true"]

[daemon]
lease = "1m"

[retention]
succeeded = "1d"

[shadow_mode]
enabled = false

[kafka]
bootstrap_servers = "b:9092"

[kafka.queues.q]
group = "g"

[health]
min_free_disk = "10%"
"""


def _same(a: Config, b: Config) -> None:
    """Equal as configs: the file each came from and its raw data aside."""
    assert dataclasses.replace(b, source=a.source, raw=a.raw) == a


def _reloaded(tmp_path: Path, text: str, name: str) -> Config:
    path = tmp_path / name
    path.write_text(text)
    config, problems = check_config(path)
    assert problems == [], problems
    return config


@pytest.mark.parametrize("dump", ["yaml", "json"])
def test_the_effective_config_loads_again_as_the_same_config(tmp_path: Path, dump: str) -> None:
    # Given a config that uses every section
    original = _reloaded(tmp_path, EVERY_SECTION, "config.yaml")
    # When its effective config is written out (as `config show` does) and loaded again
    data = config_data(original)
    text = yaml.safe_dump(data, sort_keys=False) if dump == "yaml" else json.dumps(data)
    # Then it is the same config
    _same(original, _reloaded(tmp_path, text, "shown.yaml"))


def test_the_round_trip_config_uses_every_top_level_key(tmp_path: Path) -> None:
    """A new config key must join EVERY_SECTION, so the round trip covers it."""
    config = load_config(_write(tmp_path, EVERY_SECTION))
    data, defaults = config_data(config), config_data(Config())
    assert set(data) == set(SECTIONS)
    assert [key for key in data if data[key] == defaults[key]] == []


def test_a_toml_config_shows_as_yaml_that_loads_the_same(tmp_path: Path) -> None:
    original = _reloaded(tmp_path, EVERY_SECTION_TOML, "config.toml")
    shown = yaml.safe_dump(config_data(original), sort_keys=False)
    _same(original, _reloaded(tmp_path, shown, "shown.yaml"))


def test_the_effective_config_is_plain_data_in_the_files_shape(tmp_path: Path) -> None:
    data = config_data(load_config(_write(tmp_path, EVERY_SECTION)))
    assert data["queues"][0]["retry_policy"] == {
        "max_attempts": 3,
        "backoff": "fixed",
        "base": 10.0,
        "max": 3600.0,
        "jitter": "none",
    }
    assert data["job_types"][1]["command"] == "psql -f /srv/nightly.sql | tee /var/log/nightly.log"
    assert data["kafka"]["queues"]["scheduler"]["group"] == "scheduler-workers"
    assert data["health"]["min_free_disk"] == "500MiB"
    assert data["non_retryable_exit_codes"] == [3, 64]
    assert "source" not in data and "raw" not in data
    json.dumps(data)  # nothing but JSON's own types


def test_a_yaml_date_in_a_payload_shows_as_its_iso_text(tmp_path: Path) -> None:
    text = "schedules:\n  - {name: s, cron: '@daily', command: [x], payload: {day: 2030-01-02}}\n"
    data = config_data(load_config(_write(tmp_path, text)))
    assert data["schedules"][0]["payload"] == {"day": "2030-01-02"}


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path
