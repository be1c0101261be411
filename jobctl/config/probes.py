"""Dependency probes of `health.probes:` → ProbeSpec values, every problem with its key path.

    health:
      cache: 5s                      # /healthz and /metrics run each probe at most this often
      probes:
        - name: db
          postgres: {url_file: /etc/jobctl/pg.url}   # or a URL, or {url_env: NAME}
        - name: cache
          redis: redis://127.0.0.1:6379/0
          timeout: 1s                # default 2s
          level: warning             # a failure is WARNING, not CRITICAL (the default)
        - name: api
          http: {url: https://api.local/health, method: GET, status: 200, contains: ok}
        - name: cert
          tls: {address: api.local:443, warn_days: 14, crit_days: 3}
        - name: load
          command: [/usr/lib/nagios/plugins/check_load, -w, "5,4,3", -c, "10,8,6"]
        - name: backups
          disk: {path: /srv/backups, min_free: 10%}

A URL target is a string, `{url_file: PATH}` or `{url_env: NAME}`: a URL read from a file
or the environment when the probe runs (so passwords stay out of the config, and out of
every output: they are shown as ***).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobctl.config.health import FreeDisk, parse_free_disk
from jobctl.domain.durations import parse_seconds
from jobctl.domain.probes import check_url, parse_address, redact_url
from jobctl.errors import InvalidInput

KINDS = ("postgres", "redis", "mysql", "http", "tcp", "tls", "command", "disk")
URL_KINDS = ("postgres", "redis", "mysql", "http")
LEVELS = ("critical", "warning")
DEFAULT_TIMEOUT = 2.0
DEFAULT_CACHE = 5.0
# jobctl's own probes (ops.health): a dependency probe may not take their names.
BUILTIN_PROBES = (
    "db",
    "daemons",
    "queue_lag",
    "queue_depth",
    "dlq_growth",
    "missed_schedules",
    "crontab_overlap",
    "enabled",
    "disk",
    "config",
)
ENTRY_KEYS = {"name", "timeout", "level", *KINDS}
_SECRET_KEYS = ("url", "url_file", "url_env")
OPTION_KEYS = {
    "postgres": set(_SECRET_KEYS),
    "redis": set(_SECRET_KEYS),
    "mysql": set(_SECRET_KEYS),
    "http": {*_SECRET_KEYS, "method", "status", "contains", "follow_redirects", "verify"},
    "tcp": {"address"},
    "tls": {"address", "warn_days", "crit_days", "server_name", "verify"},
    "disk": {"path", "min_free"},
}
DRIVERS = {"redis": ("redis", "redis>=5"), "mysql": ("pymysql", "PyMySQL>=1.1")}  # module, pip
_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_METHOD = re.compile(r"[A-Z]{1,16}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

Problems = list[tuple[tuple[Any, ...], str]]


@dataclass(frozen=True)
class Target:
    """Where a probe's target comes from: `text` as written, or a URL read when the probe
    runs from the file `file` or the environment variable `env`."""

    text: str | None = None
    file: str | None = None
    env: str | None = None

    @property
    def secret(self) -> bool:
        return self.text is None

    def describe(self) -> str:
        """How to name it in output: the URL with its password hidden, or where it is read."""
        if self.file is not None:
            return f"url_file {self.file}"
        if self.env is not None:
            return f"url_env {self.env}"
        return redact_url(self.text or "")


@dataclass(frozen=True)
class ProbeSpec:
    """One dependency probe; the fields after `level` are the options of some kinds."""

    name: str
    kind: str
    target: Target = Target()  # url (postgres, redis, mysql, http), address (tcp, tls), path
    argv: tuple[str, ...] = ()  # command
    timeout: float = DEFAULT_TIMEOUT
    level: str = "critical"
    method: str = "GET"  # http
    status: tuple[int, ...] = ()  # http: expected statuses; none: any 2xx
    contains: str | None = None  # http: a substring the body must have
    follow_redirects: bool = False  # http
    verify: bool | None = None  # http, tls: check the certificate chain (None: the kind's default)
    warn_days: float = 14.0  # tls
    crit_days: float = 3.0  # tls
    server_name: str | None = None  # tls: SNI and the name to verify (default: the host)
    min_free: FreeDisk | None = None  # disk (None: health.min_free_disk)

    @property
    def verifies(self) -> bool:
        """http verifies certificates unless told not to; tls reads days left only, unless
        told to verify too."""
        return self.verify if self.verify is not None else self.kind == "http"

    def data(self) -> dict[str, Any]:
        """The entry in the config file's shape (`config show`), passwords hidden."""
        if self.kind == "command":
            value: Any = list(self.argv)
        else:
            t = self.target
            if t.file is not None or t.env is not None:
                value = {"url_file": t.file} if t.file is not None else {"url_env": t.env}
            else:
                key = {"tcp": "address", "tls": "address", "disk": "path"}.get(self.kind, "url")
                value = {key: redact_url(t.text or "")}
            value.update({k: v for k, v in _options(self).items() if v is not None})
        return {"name": self.name, self.kind: value, "timeout": self.timeout, "level": self.level}


def _options(spec: ProbeSpec) -> dict[str, Any]:
    if spec.kind == "http":
        return {
            "method": spec.method,
            "status": list(spec.status) or None,
            "contains": spec.contains,
            "follow_redirects": spec.follow_redirects,
            "verify": spec.verify,
        }
    if spec.kind == "tls":
        return {
            "warn_days": spec.warn_days,
            "crit_days": spec.crit_days,
            "server_name": spec.server_name,
            "verify": spec.verify,
        }
    if spec.kind == "disk":
        return {"min_free": spec.min_free.text if spec.min_free else None}
    return {}


def check_target(kind: str, text: str, shown: str | None = None) -> str:
    """A probe's target as written (or read from its secret), checked for its kind;
    InvalidInput naming it as `shown` (a secret's file or variable) or, hidden, itself."""
    if kind in URL_KINDS:
        check_url(kind, text, shown)
    elif kind in ("tcp", "tls"):
        parse_address(text, f"{kind} address")
    elif kind == "disk" and not str(text).startswith("/"):
        raise InvalidInput(f"invalid disk path {text!r}: an absolute path")
    return text.strip()


def parse_probes(value: Any) -> tuple[tuple[ProbeSpec, ...], Problems]:
    """The `health.probes` list → specs and problems ((key path, message))."""
    problems: Problems = []
    if value is None:
        return (), problems
    if not isinstance(value, list):
        return (), [(("health", "probes"), "health.probes must be a list of probes with a name")]
    specs, seen = [], set()
    for index, entry in enumerate(value):
        where = ("health", "probes", index)
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            message = f"probe {index}: needs a name of [A-Za-z0-9_.:-], got {name!r}"
            problems.append((where, message))
            continue
        if name in seen or name in BUILTIN_PROBES:
            taken = "a built-in probe's" if name in BUILTIN_PROBES else "another probe's"
            problems.append(((*where, "name"), f"probe name {name!r} is {taken}"))
            continue
        seen.add(name)
        before = len(problems)
        spec = _probe(entry, where, problems)
        if spec is not None and len(problems) == before:
            specs.append(spec)
    return tuple(specs), problems


def _probe(entry: dict[str, Any], where: tuple[Any, ...], problems: Problems) -> ProbeSpec | None:
    name = entry["name"]
    for key in entry:
        if key not in ENTRY_KEYS:
            problems.append(((*where, key), f"probe {name!r}: unknown key {key!r}"))
    kinds = [k for k in KINDS if k in entry]
    if len(kinds) != 1:
        found = ", ".join(kinds) or "none"
        message = f"probe {name!r}: give exactly one kind of {', '.join(KINDS)} (found {found})"
        problems.append((where, message))
        return None
    kind = kinds[0]

    def bad(key: Any, message: str) -> None:
        path = (*where, kind) if key is None else (*where, kind, key)
        problems.append((path, f"probe {name!r}: {message}"))

    fields: dict[str, Any] = {"name": name, "kind": kind}
    try:
        fields["timeout"] = parse_seconds(entry.get("timeout", DEFAULT_TIMEOUT), "timeout")
        if fields["timeout"] <= 0:
            raise InvalidInput(f"invalid timeout {entry['timeout']!r}: more than 0s")
    except InvalidInput as exc:
        problems.append(((*where, "timeout"), f"probe {name!r}: {exc}"))
    level = entry.get("level", "critical")
    if level not in LEVELS:
        message = f"probe {name!r}: invalid level {level!r}: use critical or warning"
        problems.append(((*where, "level"), message))
    fields["level"] = level
    value = entry[kind]
    if kind == "command":
        fields["argv"] = _argv(value, bad)
    else:
        fields.update(_kind_fields(kind, value, bad))
    return ProbeSpec(**fields)


def _argv(value: Any, bad: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        try:
            value = shlex.split(value)
        except ValueError as exc:
            bad(None, f"invalid command {value!r}: {exc}")
            return ()
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(a, str | int | float) and not isinstance(a, bool) for a in value)
    ):
        bad(None, f"invalid command {value!r}: an argv list or a string")
        return ()
    return tuple(str(a) for a in value)


def _kind_fields(kind: str, value: Any, bad: Any) -> dict[str, Any]:
    """Target and options of every kind but command."""
    target_key = {"tcp": "address", "tls": "address", "disk": "path"}.get(kind, "url")
    if isinstance(value, str | int):
        value = {target_key: str(value)}
    if not isinstance(value, dict):
        bad(None, f"{kind} takes a {target_key} or a mapping, got {value!r}")
        return {}
    for key in value:
        if key not in OPTION_KEYS[kind]:
            known = ", ".join(sorted(OPTION_KEYS[kind]))
            bad(key, f"unknown {kind} key {key!r} (known: {known})")
    fields: dict[str, Any] = {"target": _target(kind, value, target_key, bad)}
    options = {k: v for k, v in value.items() if k in OPTION_KEYS[kind] and k not in _SECRET_KEYS}
    options.pop("address", None)
    options.pop("path", None)
    for key, item in options.items():
        try:
            fields[key] = _option(key, item)
        except InvalidInput as exc:
            bad(key, str(exc))
    if fields.get("crit_days", 3.0) > fields.get("warn_days", 14.0):
        bad("crit_days", "crit_days must not be over warn_days")
    return fields


def _target(kind: str, value: dict[str, Any], key: str, bad: Any) -> Target:
    given = [k for k in (key, "url_file", "url_env") if k in value]
    if len(given) != 1:
        choices = f"{key}, url_file or url_env" if kind in URL_KINDS else key
        bad(None, f"give one of {choices}")
        return Target()
    chosen, item = given[0], value[given[0]]
    if not isinstance(item, str) or not item.strip():
        bad(chosen, f"invalid {chosen} {item!r}: a non-empty string")
        return Target()
    try:
        if chosen == "url_file":
            if not item.startswith("/"):
                raise InvalidInput(f"invalid url_file {item!r}: an absolute path")
            return Target(file=item)
        if chosen == "url_env":
            if not _ENV_NAME.fullmatch(item):
                raise InvalidInput(f"invalid url_env {item!r}: an environment variable name")
            return Target(env=item)
        return Target(text=check_target(kind, item))
    except InvalidInput as exc:
        bad(chosen, str(exc))
        return Target()


def _option(key: str, value: Any) -> Any:
    if key == "method":
        if not isinstance(value, str) or not _METHOD.fullmatch(value.upper()):
            raise InvalidInput(f"invalid method {value!r}: an HTTP method like GET or HEAD")
        return value.upper()
    if key == "status":
        codes = value if isinstance(value, list) else [value]
        if not codes or not all(
            isinstance(c, int) and not isinstance(c, bool) and 100 <= c <= 599 for c in codes
        ):
            raise InvalidInput(f"invalid status {value!r}: an HTTP status or a list of them")
        return tuple(codes)
    if key in ("follow_redirects", "verify"):
        if not isinstance(value, bool):
            raise InvalidInput(f"invalid {key} {value!r}: use true or false")
        return value
    if key in ("warn_days", "crit_days"):
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise InvalidInput(f"invalid {key} {value!r}: a number of days >= 0")
        return float(value)
    if key == "min_free":
        return parse_free_disk(str(value), "min_free")
    if not isinstance(value, str) or not value:  # contains, server_name
        raise InvalidInput(f"invalid {key} {value!r}: a non-empty string")
    return value


def read_secret(target: Target, kind: str) -> str:
    """The target's URL: as written, or read now from its file or environment variable and
    checked for its kind. InvalidInput naming the file or variable, never the URL."""
    if target.text is not None:
        return target.text
    if target.file is not None:
        try:
            text = Path(target.file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise InvalidInput(f"url_file {target.file}: cannot read: {reason}") from None
        where = f"in url_file {target.file}"
    else:
        text = os.environ.get(target.env or "", "").strip()
        if not text:
            raise InvalidInput(f"url_env {target.env}: the variable is not set")
        where = f"in url_env {target.env}"
    if not text:
        raise InvalidInput(f"{where[3:]}: empty")
    return check_target(kind, text, where)


def host_problems(spec: ProbeSpec) -> list[tuple[str | None, str]]:
    """What `config check` finds on this host: an unreadable or invalid secret file, a
    missing driver, command or disk path. (key under the kind, or None; message)."""
    found: list[tuple[str | None, str]] = []
    if spec.target.file is not None:
        try:
            read_secret(spec.target, spec.kind)
        except InvalidInput as exc:
            found.append(("url_file", str(exc)))
    driver = DRIVERS.get(spec.kind)
    if driver and importlib.util.find_spec(driver[0]) is None:
        found.append((None, missing_driver(spec.kind)))
    if spec.kind == "command" and spec.argv:
        program = spec.argv[0]
        if shutil.which(program) is None:
            found.append((None, f"command {program!r} not found or not executable"))
    if spec.kind == "disk" and spec.target.text and not Path(spec.target.text).exists():
        found.append(("path", f"no such path {spec.target.text!r}"))
    return found


def missing_driver(kind: str) -> str:
    module, requirement = DRIVERS[kind]
    return (
        f"the {kind} probe needs the {module} package: pip install '{requirement}'"
        f" (jobctl's `{kind}` extra)"
    )
