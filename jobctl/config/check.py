"""Validate config data into a Config, collecting every problem (file:line where known)."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from jobctl.config.health import parse_health
from jobctl.config.kafka import parse_kafka
from jobctl.config.load import Document, read_document
from jobctl.config.model import Config, DaemonConfig, JobType, QueueConfig
from jobctl.config.notify import parse_notify
from jobctl.config.switches import parse_enabled, parse_shadow_mode
from jobctl.domain.durations import parse_seconds
from jobctl.domain.listen import parse_listen
from jobctl.domain.queues import check_queue_name, parse_rate_limit
from jobctl.domain.retry import RetryPolicy, parse_backoff, parse_jitter
from jobctl.errors import ConfigError, InvalidFields, InvalidInput

T = TypeVar("T")

QUEUE_KEYS = {
    "name",
    "concurrency",
    "retry_policy",
    "max_depth",
    "shed",
    "rate_limit",
    "owner",
    "severity",
    "on_node",
    "on_tag",
}
RETRY_KEYS = {"max_attempts", "backoff", "base", "max", "jitter"}
JOB_TYPE_KEYS = {
    "on_node",
    "on_tag",
    "name",
    "command",
    "handler",
    "shell",
    "queue",
    "timeout",
    "user",
    "group",
    "retry_policy",
    "cwd",
    "owner",
    "severity",
}
DAEMON_KEYS = {"concurrency", "lease", "grace", "http", "log_format", "misfire_grace", "tags"}
SCHEDULE_KEYS = {
    "on_node",
    "on_tag",
    "on_every_node",
    "stagger",
    "name",
    "cron",
    "tz",
    "command",
    "job_type",
    "payload",
    "queue",
    "overlap",
    "misfire",
    "jitter",
    "dst_gap",
    "dst_repeat",
    "timeout",
    "max_attempts",
    "shadow",
    "enabled",
    "shell",
    "owner",
    "severity",
    "ping",
    "max_runtime",
    "min_runtime",
    "deadline",
    "pause_after",
    "mailto",
}


class _Problems:
    """Every problem found, each at the line of its key path where the file tells it."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self._found: list[tuple[int, str]] = []

    @property
    def items(self) -> list[str]:
        """The problems in file order (those without a line first)."""
        return [text for _line, text in sorted(self._found, key=lambda found: found[0])]

    def add(self, path: tuple[Any, ...], message: str) -> None:
        line = self.doc.line(path)
        where = f"{self.doc.path}:{line}" if line else self.doc.path
        self._found.append((line or 0, f"{where}: {message}"))

    def guard(self, path: tuple[Any, ...], fn: Any, *args: Any, label: str = "") -> Any:
        """Call fn(*args); an InvalidInput becomes a problem at `path` (one per bad field of
        an InvalidFields, at that field), `label` before its message, and None is returned."""
        try:
            return fn(*args)
        except InvalidFields as exc:
            for key, message in exc.fields:
                self.add((*path, key), label + message)
        except InvalidInput as exc:
            self.add(path, label + str(exc))
        return None


def load_config(path: str | Path) -> Config:
    """Read and validate; raises ConfigError listing every problem."""
    config, problems = check_config(path)
    if problems:
        raise ConfigError(problems)
    return config


def check_config(path: str | Path, host_checks: bool = False) -> tuple[Config, list[str]]:
    """The config built from `path` and every problem found (empty when valid). With
    `host_checks` (`jobctl config check`), also what depends on this host: job types' users
    and groups must exist and be usable by a root daemon, and their `cwd` must exist.
    Loading never fails on those, so a
    config written for another host still loads (the job fails to spawn instead)."""
    doc = read_document(path)
    p = _Problems(doc)
    data = doc.data
    _unknown_keys(p, (), data, set(SECTIONS), "top-level key")
    fields = {key: read(p, data.get(key)) for key, read in SECTIONS.items()}
    config = Config(source=str(path), raw=data, **fields)
    _cross_check(p, config)
    if host_checks:
        _host_checks(p, config)
    return config, p.items


def _unknown_keys(
    p: _Problems, path: tuple[Any, ...], obj: Any, known: set[str], what: str
) -> None:
    if isinstance(obj, dict):
        for key in obj:
            if key not in known:
                p.add((*path, key), f"unknown {what} {key!r}")


def _named_list(
    p: _Problems, value: Any, path: tuple[Any, ...], keys: set[str]
) -> list[dict[str, Any]]:
    """A list of mappings with unique `name`s; problems for anything else."""
    if value is None:
        return []
    if not isinstance(value, list):
        p.add(path, f"{path[-1]} must be a list of entries with a name")
        return []
    seen: set[str] = set()
    out = []
    for index, item in enumerate(value):
        where = (*path, index)
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            p.add(where, f"{path[-1]}[{index}] must be a mapping with a name")
            continue
        if item["name"] in seen:
            p.add((*where, "name"), f"duplicate name {item['name']!r} in {path[-1]}")
            continue
        seen.add(item["name"])
        _unknown_keys(p, where, item, keys, f"key in {path[-1]} {item['name']!r}:")
        out.append(item)
    return out


def _positive_int(p: _Problems, path: tuple[Any, ...], value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        p.add(path, f"{path[-1]} must be a positive integer, got {value!r}")
        return None
    return value


def _flag(p: _Problems, path: tuple[Any, ...], value: Any, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        p.add(path, f"{path[-1]} must be true or false, got {value!r}")
        return default
    return value


def _text(p: _Problems, path: tuple[Any, ...], value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        p.add(path, f"{path[-1]} must be a non-empty string, got {value!r}")
        return None
    return value


def _seconds(p: _Problems, path: tuple[Any, ...], value: Any) -> float | None:
    if value is None:
        return None
    return p.guard(path, parse_seconds, value, str(path[-1]))


def _choice(p: _Problems, path: tuple[Any, ...], value: Any, choices: tuple[str, ...]) -> Any:
    if value not in choices:
        p.add(path, f"invalid {path[-1]} {value!r}: use {' or '.join(choices)}")
        return choices[0]
    return value


def _retry(p: _Problems, path: tuple[Any, ...], value: Any) -> RetryPolicy | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        p.add(path, "retry_policy must be a mapping")
        return None
    _unknown_keys(p, path, value, RETRY_KEYS, "retry_policy key")
    defaults = RetryPolicy()
    max_attempts = _positive_int(p, (*path, "max_attempts"), value.get("max_attempts"))
    backoff = p.guard((*path, "backoff"), parse_backoff, str(value.get("backoff", "exponential")))
    jitter = p.guard((*path, "jitter"), parse_jitter, value.get("jitter"))
    base = _seconds(p, (*path, "base"), value.get("base"))
    cap = _seconds(p, (*path, "max"), value.get("max"))
    return RetryPolicy(
        max_attempts=max_attempts or defaults.max_attempts,
        backoff=backoff or defaults.backoff,
        base=defaults.base if base is None else base,
        max=defaults.max if cap is None else cap,
        jitter=jitter or defaults.jitter,
    )


def _queues(p: _Problems, value: Any) -> tuple[QueueConfig, ...]:
    out = []
    for index, item in enumerate(_named_list(p, value, ("queues",), QUEUE_KEYS)):
        path = ("queues", index)
        p.guard((*path, "name"), check_queue_name, item["name"])
        shed = _choice(p, (*path, "shed"), item.get("shed", "defer"), ("defer", "reject"))
        out.append(
            QueueConfig(
                name=item["name"],
                concurrency=_positive_int(p, (*path, "concurrency"), item.get("concurrency")),
                retry=_retry(p, (*path, "retry_policy"), item.get("retry_policy")),
                max_depth=_positive_int(p, (*path, "max_depth"), item.get("max_depth")),
                shed=shed,
                rate_limit=_rate_limit(p, (*path, "rate_limit"), item.get("rate_limit")),
                **_placement(p, path, item),
                owner=_text(p, (*path, "owner"), item.get("owner")),
                severity=_text(p, (*path, "severity"), item.get("severity")),
            )
        )
    return tuple(out)


def _rate_limit(p: _Problems, path: tuple[Any, ...], value: Any) -> str | None:
    if value is None:
        return None
    parsed = p.guard(path, parse_rate_limit, value)
    return None if parsed is None else str(value)


def command_argv(value: Any, shell: bool) -> list[str]:
    """A config `command`: an argv list, or a string (shlex-split, or `sh -c` with shell)."""
    if isinstance(value, list) and value and all(isinstance(a, str | int | float) for a in value):
        argv = [str(a) for a in value]
        return ["/bin/sh", "-c", " ".join(argv)] if shell else argv
    if isinstance(value, str) and value.strip():
        if shell:
            return ["/bin/sh", "-c", value]
        try:
            return shlex.split(value)
        except ValueError as exc:
            raise InvalidInput(f"invalid command {value!r}: {exc}") from None
    raise InvalidInput(f"invalid command {value!r}: give an argv list or a string")


def _job_types(p: _Problems, value: Any) -> tuple[JobType, ...]:
    out = []
    for index, item in enumerate(_named_list(p, value, ("job_types",), JOB_TYPE_KEYS)):
        path = ("job_types", index)
        shell = _flag(p, (*path, "shell"), item.get("shell"), False)
        command, handler = item.get("command"), item.get("handler")
        if (command is None) == (handler is None):
            p.add(path, f"job type {item['name']!r} needs exactly one of command or handler")
        if handler is not None and (not isinstance(handler, str) or ":" not in handler):
            p.add((*path, "handler"), f"invalid handler {handler!r}: use module:function")
        argv = (
            None if command is None else p.guard((*path, "command"), command_argv, command, shell)
        )
        out.append(
            JobType(
                name=item["name"],
                command=argv,
                handler=handler if isinstance(handler, str) else None,
                shell=shell,
                queue=_text(p, (*path, "queue"), item.get("queue")),
                timeout=_seconds(p, (*path, "timeout"), item.get("timeout")),
                user=_text(p, (*path, "user"), item.get("user")),
                group=_text(p, (*path, "group"), item.get("group")),
                retry=_retry(p, (*path, "retry_policy"), item.get("retry_policy")),
                cwd=_absolute(p, (*path, "cwd"), item.get("cwd")),
                **_placement(p, path, item),
                owner=_text(p, (*path, "owner"), item.get("owner")),
                severity=_text(p, (*path, "severity"), item.get("severity")),
            )
        )
    return tuple(out)


def _absolute(p: _Problems, path: tuple[Any, ...], value: Any) -> str | None:
    text = _text(p, path, value)
    if text is not None and not text.startswith("/"):
        p.add(path, f"invalid {path[-1]} {text!r}: an absolute path")
        return None
    return text


def _daemon(p: _Problems, value: Any) -> DaemonConfig:
    if value is None:
        return DaemonConfig()
    if not isinstance(value, dict):
        p.add(("daemon",), "daemon must be a mapping")
        return DaemonConfig()
    _unknown_keys(p, ("daemon",), value, DAEMON_KEYS, "daemon key")
    defaults = DaemonConfig()
    lease = _seconds(p, ("daemon", "lease"), value.get("lease"))
    grace = _seconds(p, ("daemon", "grace"), value.get("grace"))
    fmt = _choice(
        p, ("daemon", "log_format"), value.get("log_format", "logfmt"), ("logfmt", "json")
    )
    misfire = _seconds(p, ("daemon", "misfire_grace"), value.get("misfire_grace"))
    for key, seconds in (("lease", lease), ("misfire_grace", misfire)):
        if seconds == 0:
            p.add(("daemon", key), f"invalid {key} 0: more than 0s")
    return DaemonConfig(
        concurrency=_positive_int(p, ("daemon", "concurrency"), value.get("concurrency"))
        or defaults.concurrency,
        lease=lease or defaults.lease,
        grace=defaults.grace if grace is None else grace,
        http=_listen(p, value.get("http")),
        log_format=fmt,
        misfire_grace=misfire or defaults.misfire_grace,
        tags=_tags(p, value.get("tags")),
    )


def _placement(p: _Problems, path: tuple[Any, ...], item: dict[str, Any]) -> dict[str, Any]:
    """`on_node` / `on_tag` of a queue, job type or schedule (one of them at most)."""
    from jobctl.domain.placement import placement

    on_node, on_tag = item.get("on_node"), item.get("on_tag")
    checked = p.guard(path, placement, on_node, on_tag, "", ("on_node", "on_tag"))
    if checked is None:
        return {}
    return {"on_node": checked.on_node, "on_tag": checked.on_tag}


def _tags(p: _Problems, value: Any) -> tuple[str, ...]:
    """daemon.tags: a list of tags (or one string)."""
    from jobctl.domain.placement import check_name

    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        p.add(("daemon", "tags"), f"daemon.tags must be a list of tags, got {value!r}")
        return ()
    tags = [p.guard(("daemon", "tags", i), check_name, t, "tag") for i, t in enumerate(items)]
    return tuple(sorted({t for t in tags if t}))


def _listen(p: _Problems, value: Any) -> str | None:
    """daemon.http: HOST:PORT, :PORT or PORT (checked here so `config check` reports it)."""
    if value is None:
        return None
    try:
        parse_listen(value, "daemon.http")
    except InvalidInput as exc:
        p.add(("daemon", "http"), str(exc))
        return None
    return str(value)


def _retention(p: _Problems, value: Any) -> dict[str, float]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        p.add(("retention",), "retention must be a mapping of state: duration")
        return {}
    out = {}
    for state, age in value.items():
        if state not in ("succeeded", "dead", "cancelled"):
            p.add(("retention", state), f"unknown retention state {state!r}")
            continue
        seconds = _seconds(p, ("retention", state), age)
        if seconds is not None:
            out[state] = seconds
    return out


def _exit_codes(p: _Problems, value: Any) -> frozenset[int]:
    from jobctl.domain.retry import DEFAULT_NON_RETRYABLE_EXIT_CODES

    if value is None:
        return DEFAULT_NON_RETRYABLE_EXIT_CODES
    if not isinstance(value, list) or not all(isinstance(c, int) and 0 < c < 256 for c in value):
        p.add(("non_retryable_exit_codes",), "non_retryable_exit_codes must be a list of 1..255")
        return DEFAULT_NON_RETRYABLE_EXIT_CODES
    return frozenset(value)


def _section(p: _Problems, value: Any, parse: Callable[[Any], tuple[T, list[Any]]]) -> T:
    """A section with its own parser (kafka, health): its problems join the others."""
    config, problems = parse(value)
    for path, message in problems:
        p.add(path, message)
    return config


def _log_cap(p: _Problems, value: Any) -> int:
    if value is None:
        return 10 * 1024 * 1024
    units = {"k": 1024, "kib": 1024, "m": 1024**2, "mib": 1024**2, "g": 1024**3, "gib": 1024**3}
    text = str(value).strip().lower()
    number = text.rstrip("kmgib")
    try:
        size = int(float(number) * units.get(text[len(number) :], 1))
    except ValueError:
        size = 0
    if size < 4096:
        p.add(("log_cap",), f"invalid log_cap {value!r}: use bytes or e.g. 10MiB (at least 4KiB)")
        return 10 * 1024 * 1024
    return size


# Every top-level key and how its value is read into the Config field of the same name:
# a new key is one entry here (and its field in config.model; `config show` follows).
SECTIONS: dict[str, Callable[[_Problems, Any], Any]] = {
    "queues": _queues,
    "job_types": _job_types,
    "schedules": lambda p, v: tuple(_named_list(p, v, ("schedules",), SCHEDULE_KEYS)),
    "retention": _retention,
    "daemon": _daemon,
    "durability": lambda p, v: _choice(p, ("durability",), v or "full", ("full", "fast")),
    "strict_queues": lambda p, v: _flag(p, ("strict_queues",), v, True),
    "non_retryable_exit_codes": _exit_codes,
    "log_cap": _log_cap,
    "log_dir": lambda p, v: _text(p, ("log_dir",), v),
    "enabled": lambda p, v: _section(p, v, parse_enabled),
    "shadow_mode": lambda p, v: _section(p, v, parse_shadow_mode),
    "kafka": lambda p, v: _section(p, v, parse_kafka),
    "health": lambda p, v: _section(p, v, parse_health),
    "notify": lambda p, v: _section(p, v, parse_notify),
}


def _cross_check(p: _Problems, config: Config) -> None:
    """References between sections: queues named by job types and schedules must exist."""
    if config.schedules:  # the cron engine (zoneinfo, …) loads only for a config with some
        from jobctl.config.schedules import build_schedule
    for index, entry in enumerate(config.schedules):
        label = f"schedule {entry['name']!r}: "
        p.guard(("schedules", index), build_schedule, entry["name"], entry, "config", label=label)
    named = [("job_types", i, t.queue) for i, t in enumerate(config.job_types)]
    named += [("schedules", i, s.get("queue")) for i, s in enumerate(config.schedules)]
    for section, index, queue in named:
        if not queue or p.guard((section, index, "queue"), check_queue_name, queue) is None:
            continue
        if not config.knows_queue(queue):
            p.add((section, index, "queue"), f"unknown queue {queue!r}")
    _route_targets(p, config)


def _route_targets(p: _Problems, config: Config) -> None:
    """A route whose match names a job type or queue the config does not have matches
    nothing: an error, like a route without a match."""
    for index, route in enumerate(config.notify.routes):
        where = ("notify", "routes", index, "match")
        for job_type in sorted(route.match.get("job_type", ())):
            if config.job_type(job_type) is None:
                p.add((*where, "job_type"), f"route {route.name!r}: unknown job type {job_type!r}")
        for queue in sorted(route.match.get("queue", ())):
            if not config.knows_queue(queue):
                p.add((*where, "queue"), f"route {route.name!r}: unknown queue {queue!r}")


def _host_checks(p: _Problems, config: Config) -> None:
    from jobctl.config.identity import check_identity

    for index, job_type in enumerate(config.job_types):
        if job_type.user or job_type.group:
            problem = check_identity(job_type.user, job_type.group)
            if problem:
                key = "user" if job_type.user else "group"
                p.add(("job_types", index, key), f"job type {job_type.name!r}: {problem}")
        if job_type.cwd and not Path(job_type.cwd).is_dir():
            p.add(
                ("job_types", index, "cwd"),
                f"job type {job_type.name!r}: no such directory {job_type.cwd!r}",
            )
    _probe_checks(p, config)
    _secret_checks(p, config)


def _secret_checks(p: _Problems, config: Config) -> None:
    """Notification channels' secret files must be readable here (never printed)."""
    from jobctl.config.notify import secret_problems

    raw = config.raw.get("notify", {}).get("channels", [])
    index = {e.get("name"): i for i, e in enumerate(raw) if isinstance(e, dict)}
    for name, key, message in secret_problems(config.notify):
        channel = config.notify.channel(name)
        kind = channel.kind if channel else ""
        where = ("notify", "channels", index.get(name, 0), kind, key)
        p.add(where, f"channel {name!r}: {message}")


def _probe_checks(p: _Problems, config: Config) -> None:
    """Dependency probes on this host: secret files, drivers, commands, disk paths."""
    from jobctl.config.probes import host_problems

    if not config.health.probes:
        return
    raw = config.raw["health"]["probes"]  # parsed from it, so a list of mappings
    index = {e.get("name"): i for i, e in enumerate(raw) if isinstance(e, dict)}
    for spec in config.health.probes:
        where = ("health", "probes", index.get(spec.name, 0), spec.kind)
        for key, message in host_problems(spec):
            p.add(where if key is None else (*where, key), f"probe {spec.name!r}: {message}")
