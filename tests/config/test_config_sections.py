"""Config's sections (health, kafka, notify, shadow_mode) are built on first read
(config/section.py): the same values as eager defaults, for every way a Config is used."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest

from jobctl.config.health import HealthConfig
from jobctl.config.kafka import KafkaConfig
from jobctl.config.model import Config
from jobctl.config.notify import NotifyConfig
from jobctl.config.switches import ShadowMode


def test_an_unset_section_reads_as_its_default() -> None:
    config = Config()
    assert config.health == HealthConfig() and config.kafka == KafkaConfig()
    assert config.notify == NotifyConfig() and config.shadow_mode == ShadowMode()
    assert config.health is config.health  # built once


def test_a_given_section_is_kept_and_the_config_stays_frozen() -> None:
    health = HealthConfig()
    config = Config(health=health)
    assert config.health is health
    assert dataclasses.replace(config, enabled=False).health is health
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.health = HealthConfig()  # type: ignore[misc]


@pytest.mark.parametrize(
    "clone", [copy.copy, copy.deepcopy, lambda c: pickle.loads(pickle.dumps(c))]
)
def test_copies_equal_the_original_whether_a_section_was_read_or_not(clone: object) -> None:
    unread, read = Config(), Config()
    assert read.kafka == KafkaConfig()
    for config in (unread, read):
        twin = clone(config)  # type: ignore[operator]
        assert twin == config and twin.kafka == KafkaConfig() and twin.notify == NotifyConfig()
    assert repr(Config()) == repr(Config(health=HealthConfig()))
