"""Schedules → a crontab that reproduces them (`schedule export`): the way back to cron.

Pure: takes schedules (and, for job-type schedules, the argv their job type runs) and
returns the crontab text and what could not be written, with why. A line is what cron(5)
and cronie read: `CRON_TZ=` before each zone's lines, `NAME=value` lines for the
environment each schedule's command had, the user column with `system`, the command with
`%` escaped (a schedule's stdin after an unescaped `%`, newlines as `%`). Imported
schedules keep their crontab's order (a crontab's environment only grows line by line),
after the others, by zone and name. A comment before
each line names its schedule (`# jobctl schedule NAME`): `schedule import` takes the name
from it, so export then import gives back the same schedules.

What `schedule import` rewrote is written back as the crontab had it: the guard idiom
`if GUARD; then … fi` as `GUARD && …`, the stdin that travels in JOBCTL_CRON_STDIN as `%`.
Noted in the comment, as cron cannot express them: jitter, placement (`--on-node`,
`--on-tag`, `--on-every-node` and its stagger: cron runs a line where its crontab is).
Left out (as a comment saying why): a seconds field, `@every`, a DST choice cron does not
make (`dst_gap: skip`, `dst_repeat: both` on a fixed-time schedule), a command on several
lines, a Python handler.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field

from jobctl.domain.cron import CronExpr, parse_cron
from jobctl.domain.crontab import DEFAULT_SHELL, STDIN_VAR, split_percent, stdin_wrapped
from jobctl.domain.durations import format_duration
from jobctl.domain.schedule import Schedule
from jobctl.domain.shellguard import unguard

CRON_DEFAULTS = {"SHELL": DEFAULT_SHELL, "PATH": "/usr/bin:/bin"}  # what cron sets itself
_SHELLS = re.compile(r"(/usr)?(/bin/)?(sh|bash|dash|ksh|zsh)")
_MAXIMA = (59, 23, 31, 12, 7)
_GUARDED = re.compile(r"if (.+); then\n(.+)\nfi", re.S)
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # all but tab: one safe line each


@dataclass(frozen=True)
class Exportable:
    """One schedule to export; `argv` overrides its command (a job type's, resolved by the
    caller; None with `job_type` set: it runs a handler cron cannot)."""

    schedule: Schedule
    argv: list[str] | None = None
    stdin: str | None = None  # a job type's payload, as the job would read it


@dataclass(frozen=True)
class LeftOut:
    name: str
    reason: str


@dataclass
class CrontabExport:
    text: str
    written: list[str] = field(default_factory=list)  # names of the schedules written
    left_out: list[LeftOut] = field(default_factory=list)


class _Skip(Exception):
    """This schedule cannot be written for cron, for the reason given."""


@dataclass(frozen=True)
class _Line:
    name: str
    tz: str
    env: dict[str, str]
    text: str  # schedule [user] command
    notes: tuple[str, ...]
    paused: bool
    order: tuple[bool, str, int, str, str]


def export_crontab(
    items: Sequence[Exportable], system: bool = False, default_user: str = "root"
) -> CrontabExport:
    """The crontab of `items` (a user crontab, or with `system` an /etc/cron.d file whose
    user column is each schedule's user, else `default_user`)."""
    lines: list[_Line] = []
    result = CrontabExport("")
    for item in items:
        try:
            lines.append(_line(item, system, default_user))
        except _Skip as exc:
            result.left_out.append(LeftOut(item.schedule.name, str(exc)))
    lines.sort(key=lambda ln: ln.order)
    out = [
        "# Written by `jobctl schedule export`: the schedules below, for cron.",
        "# Once cron runs them, `jobctl schedule demote` them (or `--imported`), so that",
        "# jobctl records their fires and runs nothing.",
    ]
    tz: str | None = None
    env: dict[str, str] = {}
    for line in lines:
        if line.tz != tz:
            out += ["", f"CRON_TZ={line.tz}"]
            tz = line.tz
        out += _env_lines(env, line.env)
        env = dict(line.env)
        notes = f" ({'; '.join(line.notes)})" if line.notes else ""
        out.append(f"# jobctl schedule {line.name}{notes}")
        out.append(f"#{line.text}" if line.paused else line.text)
        result.written.append(line.name)
    if result.left_out:
        out += ["", "# Left out: cron cannot express these."]
        out += [f"# jobctl: left out {x.name}: {x.reason}" for x in result.left_out]
    result.text = "\n".join(out) + "\n"
    return result


def _env_lines(current: dict[str, str], wanted: dict[str, str]) -> list[str]:
    """Assignments that turn the environment in effect into `wanted` (cron cannot unset:
    a variable no longer wanted is set back to cron's default, else to empty)."""
    lines = [f"{k}={CRON_DEFAULTS.get(k, '')}" for k in current if k not in wanted]
    lines += [f"{k}={_env_value(v)}" for k, v in wanted.items() if current.get(k) != v]
    return lines


def _env_value(value: str) -> str:
    """A value as cron reads it back: quoted when it has blanks at either end or quotes."""
    if value != value.strip() or (len(value) >= 2 and value[0] == value[-1] and value[0] in "'\""):
        return f'"{value}"'
    return value


def _line(item: Exportable, system: bool, default_user: str) -> _Line:
    s = item.schedule
    expr = parse_cron(s.cron)
    when = _when(s, expr)
    env = dict(s.env)
    command, stdin = _command(item, env)
    if "\n" in command or "\r" in command:
        raise _Skip("its command spans several lines: a crontab line is one line")
    written = _escaped(command, stdin)
    if any(_CONTROL.search(text) for text in (written, *env.values(), *env)):
        raise _Skip("control characters in its command or environment")
    user = f" {s.user or default_user}" if system else ""
    notes = []
    if s.jitter:
        notes.append(f"jitter {format_duration(s.jitter)}: cron starts it on time")
    notes += _placement_notes(s)
    if s.user and not system:
        notes.append(f"runs as {s.user}: put it in {s.user}'s crontab, or export --system")
    if not s.enabled:
        notes.append("paused: the line is commented out")
    # imported ones in their crontab's order (its env grows line by line: cron cannot unset),
    # after the others by zone and name
    source, _, number = (s.source or "").rpartition(":")
    imported = s.origin == "import"
    line_no = int(number) if imported and number.isdigit() else 0
    order = (imported, source if imported else "", line_no, "" if imported else s.tz, s.name)
    return _Line(s.name, s.tz, env, f"{when}{user} {written}", tuple(notes), not s.enabled, order)


def _placement_notes(s: Schedule) -> list[str]:
    """Where jobctl runs it, which a crontab cannot say: cron runs a line on the host whose
    crontab holds it."""
    tagged = f" tagged {s.on_tag}" if s.on_tag else ""
    if s.on_every_node:
        notes = [f"on every node{tagged}: install this line on each of them"]
        if s.stagger:
            notes.append(f"stagger {format_duration(s.stagger)}: cron starts them all on time")
        return notes
    if s.on_node:
        return [f"on node {s.on_node} only: install it there"]
    return [f"on a node{tagged}: install it on one of them"] if s.on_tag else []


def _when(s: Schedule, expr: CronExpr) -> str:
    if expr.kind == "every":
        raise _Skip(f"cron has no {s.cron.strip()!r}: use a cron expression (*/N)")
    if expr.kind == "reboot" or s.cron.strip().startswith("@"):
        return s.cron.strip().split()[0]
    if expr.fixed_time and (s.dst_gap, s.dst_repeat) != ("run", "once"):
        choice = f"dst-gap {s.dst_gap}" if s.dst_gap != "run" else f"dst-repeat {s.dst_repeat}"
        raise _Skip(
            f"{choice}: cron runs a fixed-time job once, right after a gap or at the first repeat"
        )
    words = s.cron.split()
    if len(words) == 6:
        if words[5] != "0":
            raise _Skip(f"cron has no seconds field ({s.cron.strip()!r})")
        words = words[:5]
    return " ".join(_cron_field(w, high) for w, high in zip(words, _MAXIMA, strict=True))


def _cron_field(word: str, high: int) -> str:
    """`N/S` (jobctl: N to the maximum, step S) as cronie writes it: `N-MAX/S`."""
    parts = []
    for element in word.split(","):
        start, slash, step = element.partition("/")
        if slash and start != "*" and "-" not in start:
            element = f"{start}-{high}/{step}"
        parts.append(element)
    return ",".join(parts)


def _command(item: Exportable, env: dict[str, str]) -> tuple[str, str | None]:
    """The shell command text and stdin of a schedule, `env` adjusted (SHELL, stdin)."""
    s = item.schedule
    argv = item.argv if s.job_type is not None else s.command
    if argv is None:
        raise _Skip(f"job type {s.job_type!r} runs a Python handler (or is not in the config)")
    stdin = item.stdin
    shell = env.get("SHELL") or DEFAULT_SHELL
    if len(argv) == 3 and argv[1] == "-c" and _SHELLS.fullmatch(argv[0]):
        text = argv[2]
        if argv[0] != shell:
            env["SHELL"] = argv[0]
    else:
        text = shlex.join(argv)
    if STDIN_VAR in env:
        head, tail = stdin_wrapped("\0").split("\0")
        if text.startswith(head) and text.endswith(tail):
            text, stdin = text[len(head) : -len(tail)], env.pop(STDIN_VAR)
    guarded = _GUARDED.fullmatch(text)
    if guarded and unguard(f"{guarded.group(1)} && {guarded.group(2)}") == text:
        text = f"{guarded.group(1)} && {guarded.group(2)}"
    return text, stdin


def _escaped(command: str, stdin: str | None) -> str:
    """`command` (and `stdin` after a `%`) as a crontab line says them; _Skip when cron
    would read the line back otherwise (a backslash right before a `%`)."""
    written = command.replace("%", "\\%")
    if stdin is not None:
        written += "%" + stdin.replace("%", "\\%").replace("\n", "%")
    if split_percent(written) != (command, stdin):
        raise _Skip("a backslash before % in its command or input cannot be written for cron")
    return written
