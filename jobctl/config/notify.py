"""The `notify:` config section → channels and routes, every problem with its key path.

    notify:
      channels:
        - {name: oncall, pagerduty: {routing_key_file: /etc/jobctl/pd.key}}
        - {name: team, email: {to: [ops@example.com], from: jobctl@example.com,
                               smtp: "smtp://127.0.0.1:25", username: jobctl,
                               password_file: /etc/jobctl/smtp.pw}}     # or no smtp: sendmail
        - {name: chat, webhook: {url_file: /etc/jobctl/slack.url, format: slack}}
        - {name: script, exec: [/usr/local/bin/on-job-event], timeout: 10s}
      routes:
        - {match: {severity: page, event: [dead, missed]}, to: [oncall], after: 2, max_per: 2/30m}

Secrets (webhook URLs, routing keys, SMTP passwords) come from files only: a channel names
the file, read when it sends; the config text never holds one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jobctl.domain.durations import parse_seconds
from jobctl.domain.notify import EVENTS, MATCH_KEYS, Backoff, Route, parse_max_per
from jobctl.errors import InvalidInput

KINDS = ("webhook", "pagerduty", "email", "exec")
FORMATS = ("json", "slack", "pagerduty")
PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
SENDMAIL = "/usr/sbin/sendmail"
CHANNEL_KEYS = {"name", "timeout", "backoff_base", "backoff_max", "give_up_after", *KINDS}
OPTION_KEYS = {
    "webhook": {"url_file", "format", "routing_key_file"},
    "pagerduty": {"routing_key_file", "url"},
    "email": {"to", "from", "smtp", "username", "password_file", "sendmail", "starttls"},
}
ROUTE_KEYS = {"name", "match", "to", "after", "while_retrying", "on_recovery", "max_per"}
DEFAULT_TIMEOUT = 10.0

Problems = list[tuple[tuple[Any, ...], str]]


@dataclass(frozen=True)
class Channel:
    """Where a delivery goes. The fields after `backoff` are the options of some kinds;
    `*_file` fields name the files secrets are read from when sending."""

    name: str
    kind: str  # webhook | pagerduty | email | exec
    timeout: float = DEFAULT_TIMEOUT
    backoff: Backoff = field(default_factory=Backoff)
    url_file: str | None = None  # webhook
    url: str | None = None  # pagerduty: the Events API endpoint (not a secret)
    format: str = "json"  # webhook: json | slack | pagerduty
    routing_key_file: str | None = None  # pagerduty, webhook format pagerduty
    to: tuple[str, ...] = ()  # email
    sender: str | None = None  # email `from`
    smtp: str | None = None  # email: smtp://host:port (STARTTLS) or smtps://; None: sendmail
    username: str | None = None  # email: SMTP AUTH user
    password_file: str | None = None
    starttls: bool | None = None  # email: None = when the server offers it (always with auth)
    sendmail: str = SENDMAIL
    argv: tuple[str, ...] = ()  # exec

    @property
    def secret_files(self) -> list[tuple[str, str]]:
        """(option, path) of every secret file this channel reads."""
        found = [
            ("url_file", self.url_file),
            ("routing_key_file", self.routing_key_file),
            ("password_file", self.password_file),
        ]
        return [(key, path) for key, path in found if path]

    def data(self) -> dict[str, Any]:
        """The channel in the config file's shape (`config show`)."""
        data: dict[str, Any] = {"name": self.name}
        if self.kind == "exec":
            data["exec"] = list(self.argv)
        elif self.kind == "webhook":
            data["webhook"] = {"url_file": self.url_file, "format": self.format}
            if self.routing_key_file:
                data["webhook"]["routing_key_file"] = self.routing_key_file
        elif self.kind == "pagerduty":
            data["pagerduty"] = {"routing_key_file": self.routing_key_file, "url": self.url}
        else:
            email: dict[str, Any] = {"to": list(self.to), "from": self.sender}
            email["smtp"] = self.smtp
            email |= {"username": self.username, "password_file": self.password_file}
            email |= {"starttls": self.starttls, "sendmail": self.sendmail}
            data["email"] = email
        data |= {"timeout": self.timeout, "backoff_base": self.backoff.base}
        data |= {"backoff_max": self.backoff.cap, "give_up_after": self.backoff.give_up_after}
        return data


def route_data(route: Route) -> dict[str, Any]:
    """A route in the config file's shape (`config show`)."""
    return {
        "name": route.name,
        "match": {key: sorted(values) for key, values in route.match.items()},
        "to": list(route.to),
        "after": route.after,
        "while_retrying": route.while_retrying,
        "on_recovery": route.on_recovery,
        "max_per": route.max_per.text if route.max_per else None,
    }


@dataclass(frozen=True)
class NotifyConfig:
    channels: tuple[Channel, ...] = ()
    routes: tuple[Route, ...] = ()

    def channel(self, name: str) -> Channel | None:
        return next((c for c in self.channels if c.name == name), None)


def parse_notify(value: Any) -> tuple[NotifyConfig, Problems]:
    """The `notify:` mapping → NotifyConfig and its problems as (key path, message)."""
    problems: Problems = []
    if value is None:
        return NotifyConfig(), problems
    if not isinstance(value, dict):
        return NotifyConfig(), [(("notify",), "notify must be a mapping of channels and routes")]
    for key in value:
        if key not in ("channels", "routes"):
            problems.append((("notify", key), f"unknown notify key {key!r}"))
    channels = _channels(value.get("channels"), problems)
    names = {c.name for c in channels}
    routes = _routes(value.get("routes"), names, problems)
    return NotifyConfig(tuple(channels), tuple(routes)), problems


def _entries(value: Any, section: str, problems: Problems) -> list[tuple[int, dict[str, Any]]]:
    if value is None:
        return []
    if not isinstance(value, list):
        problems.append((("notify", section), f"notify.{section} must be a list"))
        return []
    out = []
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            problems.append((("notify", section, index), f"{section}[{index}] must be a mapping"))
            continue
        out.append((index, item))
    return out


def _channels(value: Any, problems: Problems) -> list[Channel]:
    out: list[Channel] = []
    seen: set[str] = set()
    for index, item in _entries(value, "channels", problems):
        where = ("notify", "channels", index)
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            problems.append((where, f"channels[{index}] needs a name"))
            continue
        if name in seen:
            problems.append(((*where, "name"), f"duplicate channel name {name!r}"))
            continue
        seen.add(name)
        for key in item:
            if key not in CHANNEL_KEYS:
                problems.append(((*where, key), f"unknown key in channel {name!r}: {key!r}"))
        kinds = [k for k in KINDS if k in item]
        if len(kinds) != 1:
            problems.append((where, f"channel {name!r} needs exactly one of {', '.join(KINDS)}"))
            continue
        kind = kinds[0]
        try:
            out.append(_channel(name, kind, item, where, problems))
        except InvalidInput as exc:
            problems.append(((*where, kind), f"channel {name!r}: {exc}"))
    return out


def _channel(
    name: str, kind: str, item: dict[str, Any], where: tuple[Any, ...], problems: Problems
) -> Channel:
    common: dict[str, Any] = {"name": name, "kind": kind}
    defaults = Backoff()
    timing = {}
    for key in ("timeout", "backoff_base", "backoff_max", "give_up_after"):
        if item.get(key) is not None:
            try:
                timing[key] = parse_seconds(item[key], key)
            except InvalidInput as exc:
                problems.append(((*where, key), f"channel {name!r}: {exc}"))
    common["timeout"] = timing.get("timeout", DEFAULT_TIMEOUT) or DEFAULT_TIMEOUT
    common["backoff"] = Backoff(
        timing.get("backoff_base", defaults.base),
        timing.get("backoff_max", defaults.cap),
        timing.get("give_up_after", defaults.give_up_after),
    )
    options = item[kind]
    if kind == "exec":
        return Channel(**common, argv=_argv(options))
    if not isinstance(options, dict):
        raise InvalidInput(f"{kind} must be a mapping of options")
    for key in options:
        if key not in OPTION_KEYS[kind]:
            problems.append(((*where, kind, key), f"unknown {kind} option {key!r}"))
    if kind == "webhook":
        if "url" in options:
            raise InvalidInput("a webhook URL is a secret: put it in a file and give url_file")
        fmt = options.get("format", "json")
        if fmt not in FORMATS:
            raise InvalidInput(f"invalid format {fmt!r}: use {', '.join(FORMATS)}")
        if fmt == "pagerduty" and not options.get("routing_key_file"):
            raise InvalidInput("format pagerduty needs routing_key_file")
        return Channel(
            **common,
            url_file=_path(options.get("url_file"), "url_file", required=True),
            format=fmt,
            routing_key_file=_path(options.get("routing_key_file"), "routing_key_file"),
        )
    if kind == "pagerduty":
        url = options.get("url", PAGERDUTY_URL)
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
            raise InvalidInput(f"invalid url {url!r}: an http(s) URL")
        key_file = _path(options.get("routing_key_file"), "routing_key_file", required=True)
        return Channel(**common, url=url, format="pagerduty", routing_key_file=key_file)
    return _email(common, options)


def _email(common: dict[str, Any], options: dict[str, Any]) -> Channel:
    to = options.get("to")
    if isinstance(to, str):
        to = [to]
    if not isinstance(to, list) or not to or not all(isinstance(a, str) and "@" in a for a in to):
        raise InvalidInput(f"invalid to {to!r}: a list of mail addresses")
    sender = options.get("from")
    if sender is not None and (not isinstance(sender, str) or "@" not in sender):
        raise InvalidInput(f"invalid from {sender!r}: a mail address")
    smtp = options.get("smtp")
    if smtp is not None:
        parts = urlsplit(str(smtp))
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise InvalidInput(f"invalid smtp {smtp!r}: use smtp://HOST[:PORT] or smtps://…")
        if parts.password:
            raise InvalidInput("the SMTP password is a secret: give password_file")
    starttls = options.get("starttls")
    if starttls is not None and not isinstance(starttls, bool):
        raise InvalidInput(f"invalid starttls {starttls!r}: true or false")
    username = options.get("username")
    if smtp is not None and username is None and urlsplit(str(smtp)).username:
        username = urlsplit(str(smtp)).username
    return Channel(
        **common,
        to=tuple(to),
        sender=sender,
        smtp=None if smtp is None else str(smtp),
        username=username,
        password_file=_path(options.get("password_file"), "password_file"),
        starttls=starttls,
        sendmail=str(options.get("sendmail") or SENDMAIL),
    )


def _argv(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) and value.strip():
        import shlex

        return tuple(shlex.split(value))
    if isinstance(value, list) and value and all(isinstance(a, str | int) for a in value):
        return tuple(str(a) for a in value)
    raise InvalidInput(f"invalid exec {value!r}: an argv list")


def _path(value: Any, key: str, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise InvalidInput(f"{key} is required")
        return None
    if not isinstance(value, str) or not value.startswith("/"):
        raise InvalidInput(f"invalid {key} {value!r}: an absolute path")
    return value


def _routes(value: Any, channels: set[str], problems: Problems) -> list[Route]:
    out: list[Route] = []
    for index, item in _entries(value, "routes", problems):
        where = ("notify", "routes", index)
        name = item.get("name") or f"route-{index + 1}"
        label = f"route {name!r}: "
        for key in item:
            if key not in ROUTE_KEYS:
                problems.append(((*where, key), f"{label}unknown key {key!r}"))
        match = _match(item.get("match"), where, label, problems)
        to = item.get("to")
        if isinstance(to, str):
            to = [to]
        if not isinstance(to, list) or not to:
            problems.append(((*where, "to"), f"{label}to must list channels"))
            to = []
        for channel in to:
            if channel not in channels:
                problems.append(((*where, "to"), f"{label}unknown channel {channel!r}"))
        after = item.get("after")
        if after is not None and (type(after) is not int or after < 1):
            problems.append(((*where, "after"), f"{label}after must be a positive integer"))
            after = None
        flags = {}
        for key in ("while_retrying", "on_recovery"):
            flag = item.get(key, False)
            if not isinstance(flag, bool):
                problems.append(((*where, key), f"{label}{key} must be true or false"))
                flag = False
            flags[key] = flag
        max_per = None
        if item.get("max_per") is not None:
            try:
                max_per = parse_max_per(item["max_per"])
            except InvalidInput as exc:
                problems.append(((*where, "max_per"), label + str(exc)))
        out.append(
            Route(
                name=str(name),
                to=tuple(str(c) for c in to),
                match=match or {},
                after=after,
                max_per=max_per,
                **flags,
            )
        )
    return out


def _match(
    value: Any, where: tuple[Any, ...], label: str, problems: Problems
) -> dict[str, frozenset[str]] | None:
    if value is None:
        problems.append(
            (where, f"{label}needs a match (match: {{}} takes every event, on purpose)")
        )
        return None
    if not isinstance(value, dict):
        problems.append(((*where, "match"), f"{label}match must be a mapping"))
        return None
    out: dict[str, frozenset[str]] = {}
    for key, accepted in value.items():
        if key not in MATCH_KEYS:
            problems.append(((*where, "match", key), f"{label}unknown match key {key!r}"))
            continue
        values = accepted if isinstance(accepted, list) else [accepted]
        if not values or not all(isinstance(v, str | int) and str(v) for v in values):
            problems.append(((*where, "match", key), f"{label}invalid {key} {accepted!r}"))
            continue
        out[key] = frozenset(str(v) for v in values)
        if key == "event":
            for event in out[key] - set(EVENTS):
                message = f"{label}unknown event {event!r}: use {'|'.join(EVENTS)}"
                problems.append(((*where, "match", key), message))
    return out


def secret_problems(config: NotifyConfig) -> list[tuple[str, str, str]]:
    """(channel, option, message) for each secret file this host cannot read (`config
    check`): missing, unreadable or empty. The message names the file, never its content."""
    found = []
    for channel in config.channels:
        for key, path in channel.secret_files:
            try:
                text = Path(path).read_text(encoding="utf-8")
            except FileNotFoundError:
                found.append((channel.name, key, f"no such secret file {path!r}"))
                continue
            except OSError as exc:
                found.append((channel.name, key, f"cannot read {path!r}: {exc.strerror}"))
                continue
            if not text.strip():
                found.append((channel.name, key, f"secret file {path!r} is empty"))
    return found


def read_secret(path: str) -> str:
    """The secret in `path` (surrounding whitespace dropped); InvalidInput naming the file."""
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise InvalidInput(f"cannot read secret file {path!r}: {exc.strerror}") from None
    if not text:
        raise InvalidInput(f"secret file {path!r} is empty")
    return text
