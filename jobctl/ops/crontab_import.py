"""`schedule import`: crontab lines → schedules (shadow by default, so nothing runs twice while
the crontab is still active), and the double-dispatch check of promoted ones."""

from __future__ import annotations

import pwd
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from jobctl.config.schedules import build_schedule
from jobctl.domain.crontab import ImportedEntry, RejectedLine, parse_crontab, user_column
from jobctl.domain.schedule import Schedule
from jobctl.errors import InvalidInput
from jobctl.store import Store

CRON_STDIN_VAR = "JOBCTL_CRON_STDIN"


@dataclass(frozen=True)
class ImportPlan:
    """What importing one crontab does: the schedules to create, and the lines left out."""

    create: list[Schedule]
    rejected: list[RejectedLine]
    notes: list[str]


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
    *,
    system: bool = False,
    user: str | None = None,
    prefix: str = "cron-",
    shadow: bool = True,
    is_user: Callable[[str], bool] = known_user,
) -> ImportPlan:
    """A schedule per crontab line, written nowhere yet (`apply_import` creates them). A
    `--system` file's user column, or `user` for a user crontab, is who its jobs run as; a
    line whose user this host does not have is not imported. InvalidInput for options that
    do not fit the file (a user crontab that reads as a system one, --user with --system)."""
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
    parsed = parse_crontab(text, source, system=system, prefix=prefix)
    rejected = list(parsed.rejected)
    create = []
    existing = {s.name for s in store.schedules.list()}
    for entry in parsed.entries:
        if entry.name in existing:
            reason = f"a schedule named {entry.name!r} exists"
            rejected.append(RejectedLine(entry.source, entry.line, entry.raw, reason))
            continue
        runs_as = entry.user if system else user
        if runs_as is not None and not is_user(runs_as):
            reason = f"unknown user {runs_as!r}: no such user on this host"
            rejected.append(RejectedLine(entry.source, entry.line, entry.raw, reason))
            continue
        create.append(_from_entry(entry, shadow, runs_as))
    return ImportPlan(create, rejected, list(parsed.notes))


def apply_import(store: Store, plan: ImportPlan, now: datetime) -> None:
    """Create the planned schedules."""
    for schedule in plan.create:
        store.schedules.add(schedule, now)


def _from_entry(entry: ImportedEntry, shadow: bool, user: str | None) -> Schedule:
    command, env = list(entry.command), dict(entry.env)
    if entry.stdin is not None:
        # cron's % input goes to the whole shell command, byte for byte: it travels in the
        # environment and is piped into a group (a trailing `# comment` cannot swallow it).
        env[CRON_STDIN_VAR] = entry.stdin
        command = [command[0], "-c", f'printf %s "${CRON_STDIN_VAR}" | {{\n{command[-1]}\n}}']
    schedule = build_schedule(
        entry.name,
        {
            "cron": entry.cron,
            "tz": entry.tz,
            "command": command,
            "shadow": shadow,
            "source": f"{entry.source}:{entry.line}",
            "user": user,
        },
        origin="import",
    )
    return replace(schedule, env=env)


def still_in_crontab(store: Store, shadow_mode: bool = False) -> list[str]:
    """Warnings: an active (promoted) imported schedule whose crontab line is still there and
    uncommented, so cron and jobctl would both run it."""
    warnings = []
    parsed: dict[str, dict[int, ImportedEntry]] = {}
    for s in store.schedules.list():
        if s.origin != "import" or s.is_shadow(shadow_mode) or not s.source or ":" not in s.source:
            continue
        path, _, line = s.source.rpartition(":")
        if path not in parsed:
            try:
                text = Path(path).read_text()
            except (OSError, UnicodeDecodeError):
                parsed[path] = {}
                continue
            system = parse_crontab(text, path, system=True)
            user = parse_crontab(text, path)
            best = system if len(system.entries) >= len(user.entries) else user
            parsed[path] = {e.line: e for e in best.entries}
        entry = parsed[path].get(int(line)) if line.isdigit() else None
        if entry is not None and entry.cron == s.cron:
            warnings.append(
                f"schedule {s.name!r} is active and its line {s.source} is still in the crontab:"
                " both cron and jobctl will run it (comment the line out)"
            )
    return warnings
