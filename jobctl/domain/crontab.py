"""Crontab files → schedule drafts for `schedule import`, with cron(5)/cronie semantics.

Pure: takes a file's text and its name (no file I/O, no clock). Every line that is not
imported comes back as a `RejectedLine` with a one-line reason; nothing is dropped silently.
A draft's name comes from its own line (the command's first word and a digest of schedule,
user and command), so it stays the same when other lines change: re-importing finds it. A
line right after a `# jobctl schedule NAME` comment (what `schedule export` writes) takes
that NAME: export then import gives back the same schedules.
The guard idiom `[ -x X ] && cmd` keeps cron's meaning (see `shellguard`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jobctl.domain.shellguard import unguard
from jobctl.errors import InvalidInput

# cron(5)'s macros, kept as written (jobctl.domain.cron accepts each of them).
MACROS = (
    "@reboot",
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
)
ZONE_VARS = ("CRON_TZ", "TZ")  # CRON_TZ wins when both are in effect
DEFAULT_SHELL = "/bin/sh"

_ENV_LINE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)")
_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]*\$?")
_TOKEN = re.compile(r"&&|\|\||[;(){}]|[^\s;(){}&|]+")
_ASSIGN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_GUARDS = {"cd", "test", "[", "[[", "if", "while"}  # skipped up to the next && || ;
_FILLER = {"(", ")", "{", "}", "!", "then", "do", "else", "exec"}
_SEPARATORS = {"&&", "||", ";"}
STDIN_VAR = "JOBCTL_CRON_STDIN"  # where an imported line's % input travels to its command
NAME_COMMENT = re.compile(r"#\s*jobctl schedule ([^\s#]+)")  # `schedule export` names lines


@dataclass(frozen=True)
class ImportedEntry:
    """One crontab line as a schedule draft; `source` + `line` keep it identifiable."""

    name: str  # f"{prefix}{slug}-{digest}" (then -2, -3 for repeated lines): from the line
    cron: str  # schedule as written (fields joined by one space; macros kept)
    tz: str | None  # CRON_TZ (else TZ) in effect; None = the caller's default
    command: list[str]  # [SHELL, "-c", CMD], CMD with its guard idiom kept a no-op
    stdin: str | None  # text after the first unescaped %, None when there is none
    env: dict[str, str]  # assignments in effect, without CRON_TZ/TZ
    user: str | None  # the user column of a --system file
    source: str
    line: int  # 1-based
    raw: str


@dataclass(frozen=True)
class RejectedLine:
    """A line that was not imported, and why (one line)."""

    source: str
    line: int
    raw: str
    reason: str


@dataclass(frozen=True)
class CrontabImport:
    """What one file yields: entries, rejected lines, and notes for the operator."""

    entries: list[ImportedEntry]
    rejected: list[RejectedLine]
    notes: list[str]


class _Reject(Exception):
    """Internal: this line is not imported, for the reason given."""


def _default_validate(expr: str) -> object:
    from jobctl.domain.cron import parse_cron  # lazy: the seam tests can replace

    return parse_cron(expr)


def parse_crontab(
    text: str,
    source: str,
    *,
    system: bool = False,
    prefix: str = "cron-",
    validate: Callable[[str], object] | None = None,
) -> CrontabImport:
    """Read a user crontab (or, with `system`, an /etc/crontab-style file with a user column).

    `validate(expr)` raises InvalidInput for a bad schedule; its message becomes the reason.
    """
    check = validate or _default_validate
    env: dict[str, str] = {}
    zones: dict[str, str | None] = dict.fromkeys(ZONE_VARS)
    entries: list[ImportedEntry] = []
    rejected: list[RejectedLine] = []
    notes: list[str] = []
    names: dict[str, int] = {}
    named: str | None = None  # from a `# jobctl schedule NAME` comment right before a line
    for number, raw in enumerate(text.split("\n"), start=1):
        raw = raw.removesuffix("\r")
        stripped = raw.strip()
        given, named = named, None
        if stripped.startswith("#"):
            if match := NAME_COMMENT.match(stripped):
                named = match.group(1)
            continue
        if not stripped:
            continue
        try:
            if assignment := _ENV_LINE.fullmatch(stripped):
                name, value = assignment.group(1), _unquote(assignment.group(2))
                if name in ZONE_VARS:
                    zones[name] = _zone(name, value, zones)
                    continue
                env[name] = value
                note = (
                    f"MAILTO={value}: jobctl mails its lines' output and failures (cron's rule),"
                    " through config notify channel 'mailto' or the local sendmail"
                )
                if name == "MAILTO" and value and note not in notes:
                    notes.append(note)
                continue
            tz = zones["CRON_TZ"] or zones["TZ"]
            entry = _entry(stripped, raw, source, number, system, prefix, check, env, tz)
        except _Reject as exc:
            rejected.append(RejectedLine(source, number, raw, str(exc)))
            continue
        if given is not None:
            entry = replace(entry, name=given)
        names[entry.name] = seen = names.get(entry.name, 0) + 1
        entries.append(entry if seen == 1 else replace(entry, name=f"{entry.name}-{seen}"))
    return CrontabImport(entries, rejected, notes)


def _entry(
    text: str,
    raw: str,
    source: str,
    number: int,
    system: bool,
    prefix: str,
    check: Callable[[str], object],
    env: dict[str, str],
    tz: str | None,
) -> ImportedEntry:
    if text.startswith("@"):
        head, rest = _split(text, 1)
        if head[0] not in MACROS:
            raise _Reject(f"unknown macro {head[0]!r}: cron knows {' '.join(MACROS)}")
        cron = head[0]
    else:
        head, rest = _split(text, 5)
        if len(head) < 5:
            raise _Reject(
                f"too few fields: a schedule needs 5 (minute hour day-of-month month "
                f"day-of-week) then {'a user and ' if system else ''}a command, found {len(head)}"
            )
        cron = " ".join(head)
    try:
        check(cron)
    except InvalidInput as exc:
        raise _Reject(str(exc).replace("\n", " ")) from None
    user = None
    if system:
        column, rest = _split(rest, 1)
        if not column:
            raise _Reject("no user column: a --system line is `schedule user command`")
        user = column[0]
        if not _USER.fullmatch(user):
            raise _Reject(
                f"user column {user!r} is not a user name: a --system line is "
                "`schedule user command` (a user crontab? import it without --system)"
            )
    if not rest:
        raise _Reject("schedule but no command")
    command, stdin = split_percent(rest)
    if not command.strip():
        raise _Reject("no command before the first % (the text after it is stdin)")
    shell = env.get("SHELL") or DEFAULT_SHELL
    digest = hashlib.sha1(f"{cron}\0{user or ''}\0{rest}".encode()).hexdigest()[:6]
    return ImportedEntry(
        name=f"{prefix}{_slug(command)}-{digest}",
        cron=cron,
        tz=tz,
        command=[shell, "-c", unguard(command)],
        stdin=stdin,
        env=dict(env),
        user=user,
        source=source,
        line=number,
        raw=raw,
    )


def user_column(text: str, is_user: Callable[[str], bool]) -> tuple[int, str] | None:
    """A system crontab read as a user's: when most schedule lines read `schedule USER
    command` with a USER `is_user` knows, the first such (line number, user); else None."""
    hits: list[tuple[int, str]] = []
    lines = 0
    for number, raw in enumerate(text.split("\n"), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#") or _ENV_LINE.fullmatch(stripped):
            continue
        _schedule, rest = _split(stripped, 1 if stripped.startswith("@") else 5)
        lines += 1
        words = rest.split(None, 1)
        if len(words) == 2 and _USER.fullmatch(words[0]) and is_user(words[0]):
            hits.append((number, words[0]))
    return hits[0] if hits and 2 * len(hits) > lines else None


def stdin_wrapped(command: str) -> str:
    """A shell command fed the text of $JOBCTL_CRON_STDIN on its stdin, as cron feeds a
    line's `%` input to its command: byte for byte, to the whole command (a group, so a
    trailing `# comment` cannot swallow it)."""
    return f'printf %s "${STDIN_VAR}" | {{\n{command}\n}}'


def split_percent(text: str) -> tuple[str, str | None]:
    """cron's `%`, as cronie's do_command: (command, stdin or None).

    The command ends at the first unescaped `%` (`\\%` in it is a literal `%`, other
    backslashes stay). In the stdin text each unescaped `%` is a newline and `\\%` is `%`.
    """
    out: list[str] = []
    escaped = False
    for index, ch in enumerate(text):
        if escaped:
            escaped = False
            if ch == "%":
                out[-1] = "%"
            else:
                out.append(ch)
        elif ch == "%":
            return "".join(out), _stdin(text[index + 1 :])
        else:
            out.append(ch)
            escaped = ch == "\\"
    return "".join(out), None


def _stdin(data: str) -> str:
    out: list[str] = []
    escaped = False
    for ch in data:
        if escaped:
            if ch != "%":
                out.append("\\")
        elif ch == "%":
            ch = "\n"
        escaped = ch == "\\"
        if not escaped:
            out.append(ch)
    if escaped:
        out.append("\\")
    return "".join(out)


def _split(text: str, count: int) -> tuple[list[str], str]:
    """The first `count` blank-separated fields, and the rest (leading blanks dropped)."""
    parts = text.split(None, count)
    return parts[:count], (parts[count] if len(parts) > count else "")


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _zone(name: str, value: str, zones: dict[str, str | None]) -> str | None:
    """Validate a CRON_TZ/TZ value (empty = back to the default zone)."""
    if not value:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        kept = zones["CRON_TZ"] or zones["TZ"] or "the default zone"
        raise _Reject(
            f"unknown time zone {value!r} in {name}: the lines after it keep {kept}"
        ) from None
    return value


def _slug(command: str) -> str:
    """A readable slug: the basename of the command's first word, past `cd X &&`-style guards,
    `VAR=value` prefixes and grouping (`test -x A || ( cd / && run-parts …)` → run-parts)."""
    tokens = _TOKEN.findall(command)
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token in _FILLER or _ASSIGN.match(token):
            index += 1
            continue
        after = [i for i in range(index + 1, len(tokens)) if tokens[i] in _SEPARATORS]
        if token not in _GUARDS or not after:
            break
        index = after[0] + 1
    word = tokens[index] if index < len(tokens) else (tokens[0] if tokens else "")
    base = word.strip("'\"").rstrip("/").rsplit("/", 1)[-1]
    slug = re.sub(r"[^a-z0-9]+", "-", base.lower()).strip("-")[:40].strip("-")
    return slug or "cmd"
