"""Schedule definitions (from `schedule add` options or the config's `schedules:` list) →
validated Schedule values."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jobctl.config.check import command_argv
from jobctl.config.resolve import EnqueueOptions
from jobctl.domain.cron import parse_cron
from jobctl.domain.durations import iso_z, parse_seconds
from jobctl.domain.schedule import Misfire, Overlap, Schedule, parse_choice
from jobctl.errors import InvalidInput


def local_zone_name() -> str:
    """The IANA name of the system's zone: $TZ, /etc/timezone, /etc/localtime, else UTC."""
    tz = os.environ.get("TZ", "").lstrip(":")
    if tz and _valid_zone(tz):
        return tz
    try:
        name = Path("/etc/timezone").read_text().strip()
        if _valid_zone(name):
            return name
    except OSError:
        pass
    try:
        target = str(Path("/etc/localtime").resolve())
        if "zoneinfo/" in target:
            name = target.split("zoneinfo/", 1)[1]
            if _valid_zone(name):
                return name
    except OSError:
        pass
    return "UTC"


def _valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def check_zone(name: str) -> str:
    if not _valid_zone(name):
        raise InvalidInput(f"unknown time zone {name!r}: use an IANA name like Europe/Berlin")
    return name


def build_schedule(name: str, fields: dict[str, Any], origin: str = "cli") -> Schedule:
    """Validate one schedule's fields; InvalidInput names the bad value."""
    if not name or any(c.isspace() for c in name):
        raise InvalidInput(f"invalid schedule name {name!r}: no spaces")
    cron = str(fields.get("cron") or "")
    parse_cron(cron)
    command = fields.get("command")
    job_type = fields.get("job_type")
    if (command is None) == (job_type is None):
        raise InvalidInput(f"schedule {name!r} needs exactly one of a command or job_type")
    argv = None if command is None else command_argv(command, bool(fields.get("shell")))
    jitter = parse_seconds(fields.get("jitter") or 0, "jitter")
    timeout = fields.get("timeout")
    max_attempts = fields.get("max_attempts")
    if max_attempts is not None and (not isinstance(max_attempts, int) or max_attempts < 1):
        raise InvalidInput(f"invalid max_attempts {max_attempts!r}: a positive integer")
    return Schedule(
        name=name,
        cron=cron.strip(),
        tz=check_zone(fields.get("tz") or local_zone_name()),
        queue=fields.get("queue") or "default",
        command=argv,
        job_type=job_type,
        payload=fields.get("payload"),
        enabled=bool(fields.get("enabled", True)),
        shadow=_flag(fields.get("shadow"), "shadow"),
        overlap=parse_choice(Overlap, fields.get("overlap") or "forbid", "overlap"),
        misfire=parse_choice(Misfire, fields.get("misfire") or "once", "misfire"),
        jitter=jitter,
        dst_gap=_one_of(fields.get("dst_gap") or "run", ("run", "skip"), "dst-gap"),
        dst_repeat=_one_of(fields.get("dst_repeat") or "once", ("once", "both"), "dst-repeat"),
        timeout=None if timeout is None else parse_seconds(timeout, "timeout"),
        max_attempts=max_attempts,
        origin=origin,
        source=fields.get("source"),
        user=fields.get("user"),
    )


def _flag(value: Any, option: str) -> bool | None:
    """A true/false field that may be left unset (None)."""
    if value is None or isinstance(value, bool):
        return value
    raise InvalidInput(f"invalid {option} {value!r}: use true or false")


def _one_of(value: str, choices: tuple[str, ...], option: str) -> str:
    if value not in choices:
        raise InvalidInput(f"invalid {option} {value!r}: use {'|'.join(choices)}")
    return value


def config_schedules(entries: tuple[dict[str, Any], ...]) -> list[Schedule]:
    """The config's `schedules:` list (already shape-checked) → Schedules (origin config)."""
    return [build_schedule(e["name"], e, origin="config") for e in entries]


def fire_options(
    s: Schedule,
    run_at: datetime | None = None,
    nominal_at: datetime | None = None,
    request_id: str | None = None,
) -> EnqueueOptions:
    """What one run of a schedule enqueues (a fire, or `schedule run` when both are None).
    A fire's request id is `fire:NAME:NOMINAL` (stable: the fire is enqueued exactly once)."""
    if request_id is None and nominal_at is not None:
        request_id = f"fire:{s.name}:{iso_z(nominal_at)}"
    return EnqueueOptions(
        command=s.command,
        job_type=s.job_type,
        payload=s.payload,
        queue=s.queue,
        name=s.name,
        run_at=run_at,
        max_attempts=s.max_attempts,
        timeout=s.timeout,
        env=dict(s.env),
        user=s.user,
        schedule=s.name,
        nominal_at=nominal_at,
        request_id=request_id,
    )
