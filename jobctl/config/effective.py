"""The effective config as plain data in a config file's own shape (`config show`).

One walk over the typed tree: a dataclass becomes a mapping of its fields (under the config
key its field metadata names, else the field's name), an enum its value, a set a sorted
list. A new config field needs nothing here; only a type whose file shape differs from its
fields has an entry in `_SHAPES`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date, time
from enum import Enum
from typing import Any

from jobctl.config.health import FreeDisk
from jobctl.config.kafka import KafkaConfig
from jobctl.config.model import Config, JobType
from jobctl.config.notify import Channel, route_data
from jobctl.config.probes import ProbeSpec
from jobctl.domain.notify import Route

NOT_KEYS = ("source", "raw")  # Config fields that are not config keys


def config_data(config: Config) -> dict[str, Any]:
    """`config` as plain data (dicts, lists, strings, numbers, booleans, None), every key with
    its effective value: written out as YAML or JSON and loaded again, it gives an equal
    Config."""
    return {k: v for k, v in _fields(config).items() if k not in NOT_KEYS}


def _plain(value: Any) -> Any:
    shape = _SHAPES.get(type(value))
    if shape is not None:
        return shape(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _fields(value)
    if isinstance(value, Enum):
        return _plain(value.value)
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, frozenset | set):
        return sorted(_plain(v) for v in value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, date | time):  # a date in a YAML/TOML payload
        return value.isoformat()
    raise TypeError(f"config value of type {type(value).__name__} has no plain form")


def _fields(value: Any) -> dict[str, Any]:
    return {
        f.metadata.get("key", f.name): _plain(getattr(value, f.name))
        for f in dataclasses.fields(value)
    }


def _job_type(job_type: JobType) -> dict[str, Any]:
    data = _fields(job_type)
    if job_type.shell and job_type.command:  # loading adds the `/bin/sh -c`
        data["command"] = job_type.command[-1]
    return data


def _kafka(kafka: KafkaConfig) -> dict[str, Any]:
    data = _fields(kafka)
    data["queues"] = {q.pop("name"): q for q in data["queues"]}  # a mapping name: {group, …}
    return data


_SHAPES: dict[type, Callable[[Any], Any]] = {
    JobType: _job_type,
    KafkaConfig: _kafka,
    FreeDisk: lambda disk: disk.text,
    ProbeSpec: lambda spec: spec.data(),
    Channel: lambda channel: channel.data(),
    Route: route_data,
}
