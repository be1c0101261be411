"""`schedule import`: crontab lines → schedules (shadow by default, so nothing runs twice while
the crontab is still active), and the double-dispatch check of promoted ones."""

from __future__ import annotations

import os
import pwd
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from jobctl.config.schedules import build_schedule
from jobctl.domain.crontab import (
    STDIN_VAR,
    ImportedEntry,
    RejectedLine,
    parse_crontab,
    stdin_wrapped,
    user_column,
)
from jobctl.domain.schedule import Schedule
from jobctl.errors import InvalidInput
from jobctl.ops.schedules import lint_schedule

if TYPE_CHECKING:
    from jobctl.store.protocol import Store


SANDBOX_NOTE = (
    "under systemd, jobs run in the daemon's sandbox, which stops cron's maintenance jobs"
    " (logrotate, apt, man-db, writes under /home or to a shared /tmp): install the drop-in"
    " contrib/systemd/jobctl.service.d/cron-compat.conf (see contrib/systemd/README.md)"
)


@dataclass(frozen=True)
class Existing:
    """A line imported before: its schedule exists (by name, which comes from the line)."""

    name: str
    source: str  # file:line
    changed: bool  # the stored schedule differs from the line's now (zone, env, user, ...)


@dataclass(frozen=True)
class ImportPlan:
    """What importing one crontab does: the schedules to create, those that exist, the lines
    left out and why, notes (MAILTO) and lint warnings (DST, never fires) of the new ones."""

    create: list[Schedule]
    existing: list[Existing]
    rejected: list[RejectedLine]
    notes: list[str]
    warnings: list[str]


def known_user(name: str) -> bool:
    """Whether this host has a user of that name (what its jobs would run as)."""
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def plan_import(
    store: Store,
    text: str,
    source: str,
    now: datetime,
    *,
    system: bool = False,
    user: str | None = None,
    prefix: str = "cron-",
    shadow: bool = True,
    is_user: Callable[[str], bool] = known_user,
) -> ImportPlan:
    """A schedule per crontab line, written nowhere yet (`apply_import` creates them). A
    `--system` file's user column, or `user` for a user crontab, is who its jobs run as; a
    line whose user this host does not have is not imported. Sources are absolute paths
    (`-`: stdin). InvalidInput for options that do not fit the file (a user crontab that
    reads as a system one, --user with --system)."""
    if system and user is not None:
        raise InvalidInput("--user does not go with --system: a system crontab names each user")
    if user is not None and not is_user(user):
        raise InvalidInput(f"unknown user {user!r}: no such user on this host")
    if not system and (found := user_column(text, is_user)) is not None:
        line, name = found
        raise InvalidInput(
            f"{source} looks like a system crontab (line {line} has the user column {name!r}):"
            " import it with --system"
        )
    path = source if source == "-" else os.path.abspath(source)
    parsed = parse_crontab(text, path, system=system, prefix=prefix)
    plan = ImportPlan([], [], list(parsed.rejected), list(parsed.notes), [])
    stored = {s.name: s for s in store.schedules.list()}
    for entry in parsed.entries:
        runs_as = entry.user if system else user
        if runs_as is not None and not is_user(runs_as):
            reason = f"unknown user {runs_as!r}: no such user on this host"
            plan.rejected.append(RejectedLine(entry.source, entry.line, entry.raw, reason))
            continue
        schedule = _from_entry(entry, shadow, runs_as)
        if (old := stored.get(entry.name)) is not None:
            plan.existing.append(Existing(old.name, schedule.source or "", _differ(old, schedule)))
            continue
        plan.create.append(schedule)
        lint = lint_schedule(None, schedule, now, [])
        plan.warnings.extend(f"schedule {schedule.name!r}: {w}" for w in lint)
    plan.rejected.sort(key=lambda r: r.line)
    if plan.create:
        plan.notes.append(SANDBOX_NOTE)
    return plan


def _differ(old: Schedule, new: Schedule) -> bool:
    fields = ("cron", "tz", "command", "env", "user")
    return any(getattr(old, f) != getattr(new, f) for f in fields)


def apply_import(store: Store, plan: ImportPlan, now: datetime) -> None:
    """Create the planned schedules."""
    for schedule in plan.create:
        store.schedules.add(schedule, now)


def _from_entry(entry: ImportedEntry, shadow: bool, user: str | None) -> Schedule:
    command, env = _command_env(entry)
    schedule = build_schedule(
        entry.name,
        {
            "cron": entry.cron,
            "tz": entry.tz,
            "command": command,
            "shadow": shadow,
            "source": f"{entry.source}:{entry.line}",
            "user": user,
            "mailto": entry.env.get("MAILTO"),
        },
        origin="import",
    )
    return replace(schedule, env=env)


def _command_env(entry: ImportedEntry) -> tuple[list[str], dict[str, str]]:
    """The argv and environment that run the line as cron would."""
    command, env = list(entry.command), dict(entry.env)
    if entry.stdin is not None:  # it travels in the environment (domain.crontab)
        env[STDIN_VAR] = entry.stdin
        command = [command[0], "-c", stdin_wrapped(command[-1])]
    return command, env


def still_in_crontab(store: Store, shadow_mode: bool = False) -> list[str]:
    """Warnings: an active (promoted) imported schedule whose line is still in its crontab,
    uncommented (the same schedule and shell command, wherever the line moved), so cron and
    jobctl would both run it."""
    warnings = []
    lines: dict[str, dict[tuple[str, str], int]] = {}
    for s in store.schedules.list():
        if s.origin != "import" or s.is_shadow(shadow_mode) or not s.source or ":" not in s.source:
            continue
        path = s.source.rpartition(":")[0]
        if path not in lines:
            lines[path] = _crontab_lines(path)
        line = lines[path].get((s.cron, s.command[-1] if s.command else ""))
        if line is not None:
            warnings.append(
                f"schedule {s.name!r} is active and its line {path}:{line} is still in the"
                " crontab: both cron and jobctl will run it (comment the line out)"
            )
    return warnings


def _crontab_lines(path: str) -> dict[tuple[str, str], int]:
    """(schedule, shell command) → line number of each line of the crontab at `path`, read
    either way (with and without a user column); empty when it cannot be read."""
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError):
        return {}
    found: dict[tuple[str, str], int] = {}
    for system in (False, True):
        for entry in parse_crontab(text, path, system=system).entries:
            found.setdefault((entry.cron, _command_env(entry)[0][-1]), entry.line)
    return found
