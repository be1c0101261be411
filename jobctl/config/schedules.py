"""Schedule definitions (from `schedule add` options or the config's `schedules:` list) →
validated Schedule values."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jobctl.config.check import command_argv
from jobctl.config.resolve import EnqueueOptions
from jobctl.domain.cron import parse_cron
from jobctl.domain.durations import iso_z, parse_seconds
from jobctl.domain.placement import Placement, placement
from jobctl.domain.schedule import Misfire, Overlap, Schedule, parse_choice
from jobctl.errors import InvalidFields, InvalidInput

T = TypeVar("T")


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


def build_schedule(
    name: str, fields: dict[str, Any], origin: str = "cli", flags: bool = False
) -> Schedule:
    """Validate one schedule's fields; InvalidFields names every bad value (each field is
    checked on its own, so one pass reports them all). `flags`: errors name the CLI's
    options (`--on-tag`) rather than config keys (`on_tag`)."""
    problems: list[tuple[str, str]] = []

    def checked(key: str, fn: Callable[..., T], *args: Any) -> T:
        try:
            return fn(*args)
        except InvalidInput as exc:
            problems.append((key, str(exc)))
            # Never used: the Schedule built with it is dropped when InvalidFields follows.
            return None  # type: ignore[return-value]

    def get(key: str, default: Any = None) -> Any:
        return fields.get(key) or default

    if not name or any(c.isspace() for c in name):
        problems.append(("name", f"invalid schedule name {name!r}: no spaces"))
    cron = str(get("cron", ""))
    checked("cron", parse_cron, cron)
    command, job_type = fields.get("command"), fields.get("job_type")
    if (command is None) == (job_type is None):
        problems.append(
            ("command", f"schedule {name!r} needs exactly one of a command or job_type")
        )
    shell = bool(get("shell"))
    argv = None if command is None else checked("command", command_argv, command, shell)
    timeout = fields.get("timeout")
    max_attempts = fields.get("max_attempts")
    if max_attempts is not None and (type(max_attempts) is not int or max_attempts < 1):
        problems.append(
            ("max_attempts", f"invalid max_attempts {max_attempts!r}: a positive integer")
        )
    where = checked(
        "on_node",
        placement,
        fields.get("on_node"),
        fields.get("on_tag"),
        "",
        ("--on-node", "--on-tag") if flags else ("on_node", "on_tag"),
    )
    every_node = checked("on_every_node", _flag, fields.get("on_every_node"), "on_every_node")
    stagger = fields.get("stagger")
    stagger = None if stagger is None else checked("stagger", parse_seconds, stagger, "stagger")
    problems += _every_node_problems(bool(every_node), stagger, where, flags)
    pause_after = fields.get("pause_after")
    if pause_after is not None and (type(pause_after) is not int or pause_after < 1):
        problems.append(("pause_after", f"invalid pause_after {pause_after!r}: a positive integer"))
        pause_after = None
    runtimes = {}
    for key in ("max_runtime", "min_runtime"):
        value = fields.get(key)
        runtimes[key] = None if value is None else checked(key, parse_seconds, value, key)
    deadline = fields.get("deadline")
    if deadline is not None:
        deadline = checked("deadline", parse_deadline, deadline)
    schedule = Schedule(
        name=name,
        cron=cron.strip(),
        tz=checked("tz", check_zone, get("tz") or local_zone_name()),
        queue=get("queue", "default"),
        command=argv,
        job_type=job_type,
        payload=fields.get("payload"),
        enabled=bool(fields.get("enabled", True)),
        shadow=checked("shadow", _flag, fields.get("shadow"), "shadow"),
        overlap=checked("overlap", parse_choice, Overlap, get("overlap", "forbid"), "overlap"),
        misfire=checked("misfire", parse_choice, Misfire, get("misfire", "once"), "misfire"),
        jitter=checked("jitter", parse_seconds, get("jitter", 0), "jitter"),
        dst_gap=checked("dst_gap", _one_of, get("dst_gap", "run"), ("run", "skip"), "dst-gap"),
        dst_repeat=checked(
            "dst_repeat", _one_of, get("dst_repeat", "once"), ("once", "both"), "dst-repeat"
        ),
        timeout=None if timeout is None else checked("timeout", parse_seconds, timeout, "timeout"),
        max_attempts=max_attempts,
        origin=origin,
        source=fields.get("source"),
        user=fields.get("user"),
        on_node=where.on_node if where else None,
        on_tag=where.on_tag if where else None,
        on_every_node=bool(every_node),
        stagger=stagger or None,
        owner=checked("owner", _label, fields.get("owner"), "owner"),
        severity=checked("severity", _label, fields.get("severity"), "severity"),
        ping=checked("ping", _ping_url, fields.get("ping")),
        max_runtime=runtimes["max_runtime"],
        min_runtime=runtimes["min_runtime"],
        deadline=deadline,
        pause_after=pause_after,
        mailto=checked("mailto", parse_mailto, fields.get("mailto")),
    )
    if problems:
        raise InvalidFields(problems)
    return schedule


def _every_node_problems(
    every_node: bool, stagger: float | None, where: Placement | None, flags: bool
) -> list[tuple[str, str]]:
    """`on_every_node` places each job on its node itself: it combines with `on_tag` (every
    tagged node), never with `on_node`; `stagger` spreads those jobs and needs it."""
    names = ("--on-every-node", "--on-node", "--stagger") if flags else (
        "on_every_node", "on_node", "stagger"
    )  # fmt: skip
    problems = []
    if every_node and where is not None and where.on_node is not None:
        problems.append(("on_every_node", f"give {names[0]} or {names[1]}, not both"))
    if stagger and not every_node:
        problems.append(("stagger", f"{names[2]} spreads the jobs of {names[0]}: give both"))
    return problems


def parse_deadline(value: Any) -> str:
    """A wall-clock deadline `HH:MM` (in the schedule's zone) → "HH:MM"; InvalidInput else."""
    text = str(value).strip()
    parts = text.split(":")
    if (
        len(parts) == 2
        and all(p.isdigit() and len(p) == 2 for p in parts)
        and int(parts[0]) < 24
        and int(parts[1]) < 60
    ):
        return text
    raise InvalidInput(f"invalid deadline {value!r}: a time of day HH:MM like 06:00")


def parse_mailto(value: Any) -> str | None:
    """cron's MAILTO: comma-separated mail addresses (empty: none)."""
    if value is None or not str(value).strip():
        return None
    addresses = [a.strip() for a in str(value).split(",")]
    if not all("@" in a and " " not in a for a in addresses):
        raise InvalidInput(f"invalid mailto {value!r}: comma-separated mail addresses")
    return ",".join(addresses)


def _label(value: Any, option: str) -> str | None:
    """owner / severity: a short word (they are matched by routes)."""
    if value is None:
        return None
    text = str(value)
    if not text or len(text) > 64 or any(c.isspace() or not c.isprintable() for c in text):
        raise InvalidInput(f"invalid {option} {value!r}: a word of up to 64 characters")
    return text


def _ping_url(value: Any) -> str | None:
    if value is None:
        return None
    from urllib.parse import urlsplit

    parts = urlsplit(str(value))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"invalid ping {value!r}: an http(s) URL")
    return str(value)


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
    node: str | None = None,
) -> EnqueueOptions:
    """What one run of a schedule enqueues (a fire, or `schedule run` when both are None).
    A fire's request id is `fire:NAME:NOMINAL` (stable: the fire is enqueued exactly once).
    `node`: the job of that node (`--on-every-node`), placed on it."""
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
        on_node=node or s.on_node,
        on_tag=None if node else s.on_tag,
        schedule=s.name,
        nominal_at=nominal_at,
        request_id=request_id,
    )
