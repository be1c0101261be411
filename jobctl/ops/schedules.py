"""Schedule operations for the CLI: views, `next`, lint on add, crontab import, missed runs."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from jobctl.config.schedules import build_schedule, check_zone, local_zone_name
from jobctl.domain.cron import CronExpr, parse_cron
from jobctl.domain.crontab import ImportedEntry, RejectedLine, parse_crontab
from jobctl.domain.digits import parse_digits
from jobctl.domain.durations import iso_z, parse_time
from jobctl.domain.fires import (
    RUN_TIME_MIN_RUNS,
    expected_interval,
    lint,
    next_fires,
    run_time_lint,
)
from jobctl.domain.schedule import Outcome, Schedule
from jobctl.errors import JobctlError, NotFound
from jobctl.store import Store

CRON_STDIN_VAR = "JOBCTL_CRON_STDIN"
SAME_INSTANT_WARN = 5  # this many schedules firing at one instant without jitter: warn
RUN_TIME_SAMPLE = 50  # the run-time lint's p95 is over at most this many latest attempts


def schedule_shape(store: Store, s: Schedule, now: datetime) -> dict[str, Any]:
    expr, tz = parse_cron(s.cron), ZoneInfo(s.tz)
    after = max(now, s.cursor_at) if s.cursor_at else now
    upcoming = next_fires(expr, tz, after, 1, dst_gap=s.dst_gap, dst_repeat=s.dst_repeat)
    last = store.schedules.last_run(s.name)
    return {
        "name": s.name,
        "cron": s.cron,
        "tz": s.tz,
        "queue": s.queue,
        "command": s.command,
        "job_type": s.job_type,
        "enabled": s.enabled,
        "shadow": s.shadow,
        "overlap": s.overlap.value,
        "misfire": s.misfire.value,
        "jitter": s.jitter,
        "dst_gap": s.dst_gap,
        "dst_repeat": s.dst_repeat,
        "next_run_at": iso_z(upcoming[0].at) if upcoming and s.enabled else None,
        "last_run_at": iso_z(last.nominal_at) if last else None,
        "last_state": last.state if last else None,
        "last_job_id": last.job_id if last else None,
        "origin": s.origin,
        "source": s.source,
        "run_time_warning": run_time_warning(store, s, now),
    }


def next_listing(
    store: Store | None,
    target: str,
    tz: str | None,
    count: int,
    start: str | None,
    now: datetime,
) -> list[dict[str, Any]]:
    """The next `count` fires of a schedule (by name, in `store` when there is one) or an
    expression, strictly after `start` (default `now`; without an offset it is read in the
    zone), computed by the engine the daemon fires with. The zone: `tz`, else the
    schedule's, else the system's."""
    try:
        s = store.schedules.get(target) if store is not None else None
    except NotFound:
        s = None
    if s is not None:
        expr, zone_name, gap, repeat = parse_cron(s.cron), tz or s.tz, s.dst_gap, s.dst_repeat
    else:
        expr, zone_name, gap, repeat = parse_cron(target), tz or local_zone_name(), "run", "once"
    zone = ZoneInfo(check_zone(zone_name))
    after = parse_time(start, now, zone, "--from") if start else now
    return [
        {"at": iso_z(f.at), "local": f.at.astimezone(zone).isoformat(), "dst_note": f.dst_note}
        for f in next_fires(expr, zone, after, count, dst_gap=gap, dst_repeat=repeat)
    ]


def lint_schedule(
    store: Store | None, s: Schedule, now: datetime, others: Sequence[Schedule] | None = None
) -> list[str]:
    """Warnings for `schedule add` / `config check` (SPEC "Lint"): never fires, DST trouble,
    a crowd firing at one instant with `others` (default: the DB's schedules), p95 run time
    over the interval (needs the DB, `store`, and the run history of this name)."""
    expr, zone = parse_cron(s.cron), ZoneInfo(s.tz)
    warnings = list(lint(expr, zone, now))
    if others is None:
        others = store.schedules.list() if store is not None else []
    crowd = _crowd_warning(s, expr, zone, others, now)
    run_time = run_time_warning(store, s, now) if store is not None else None
    return warnings + [w for w in (crowd, run_time) if w]


def _crowd_warning(
    s: Schedule, expr: CronExpr, zone: ZoneInfo, others: Sequence[Schedule], now: datetime
) -> str | None:
    if s.jitter or expr.kind != "cron":
        return None
    mine = next_fires(expr, zone, now, 1)
    if not mine:
        return None
    same = 1
    for other in others:
        if other.name == s.name or other.jitter:
            continue
        theirs = next_fires(parse_cron(other.cron), ZoneInfo(other.tz), now, 1)
        same += bool(theirs and theirs[0].at == mine[0].at)
    if same < SAME_INSTANT_WARN:
        return None
    return (
        f"{same} schedules fire at {iso_z(mine[0].at)} without jitter: "
        "consider --jitter to spread the load"
    )


def run_time_warning(store: Store, s: Schedule, now: datetime) -> str | None:
    """The lint warning when the p95 duration of the latest finished attempts of jobs of
    schedule `s.name` exceeds the interval between its next fires; None without history."""
    durations = store.schedules.run_durations(s.name, RUN_TIME_SAMPLE)
    if len(durations) < RUN_TIME_MIN_RUNS:
        return None
    interval = expected_interval(
        parse_cron(s.cron), ZoneInfo(s.tz), now, dst_gap=s.dst_gap, dst_repeat=s.dst_repeat
    )
    return run_time_lint(s.cron, durations, interval)


def lint_config(
    store: Store | None, schedules: Sequence[dict[str, Any]], now: datetime
) -> list[str]:
    """`config check`'s lint of the config's `schedules:` (entries that do not validate are
    the config's errors, not linted). A crowd counts the config's schedules and, with a DB,
    its other schedules; the run-time check needs the DB's history."""
    built = []
    for entry in schedules:
        try:
            built.append(build_schedule(entry["name"], entry, origin="config"))
        except (JobctlError, KeyError, TypeError):
            continue
    everyone = {s.name: s for s in store.schedules.list()} if store is not None else {}
    everyone.update((s.name, s) for s in built)
    others = list(everyone.values())
    return [
        f"schedule {s.name!r}: {w}" for s in built for w in lint_schedule(store, s, now, others)
    ]


def import_crontab(
    store: Store,
    text: str,
    source: str,
    now: datetime,
    system: bool = False,
    prefix: str = "cron-",
    dry_run: bool = False,
    shadow: bool = True,
) -> tuple[list[Schedule], list[RejectedLine], list[str]]:
    """Create a schedule per crontab line (shadow by default, so nothing runs twice while the
    crontab is still active). Returns (created or would-be, rejected lines, notes)."""
    parsed = parse_crontab(text, source, system=system, prefix=prefix)
    rejected = list(parsed.rejected)
    created = []
    existing = {s.name for s in store.schedules.list()}
    for entry in parsed.entries:
        if entry.name in existing:
            rejected.append(
                RejectedLine(
                    entry.source, entry.line, entry.raw, f"a schedule named {entry.name!r} exists"
                )
            )
            continue
        schedule = _from_entry(entry, shadow)
        if not dry_run:
            store.schedules.add(schedule, now)
        created.append(schedule)
    return created, rejected, list(parsed.notes)


def _from_entry(entry: ImportedEntry, shadow: bool) -> Schedule:
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
        },
        origin="import",
    )
    return replace(schedule, env=env)


def describe_command(s: Schedule) -> str:
    return shlex.join(s.command) if s.command else f"[{s.job_type}]"


def missed_runs(store: Store, name: str | None, since: datetime | None) -> list[dict[str, Any]]:
    """Nominal fires that did not run, and why (the missed-run ledger)."""
    if name is not None:
        store.schedules.get(name)
    reasons = [o.value for o in Outcome if o is not Outcome.ENQUEUED]
    return [
        {
            "schedule": f.schedule,
            "nominal_at": iso_z(f.nominal_at),
            "reason": f.outcome,
            "lateness": f.lateness,
        }
        for f in store.schedules.fires(name, since, reasons)
    ]


def still_in_crontab(store: Store) -> list[str]:
    """Warnings: an active (promoted) imported schedule whose crontab line is still there and
    uncommented, so cron and jobctl would both run it."""
    from pathlib import Path

    warnings = []
    parsed: dict[str, dict[int, ImportedEntry]] = {}
    for s in store.schedules.list():
        if s.origin != "import" or s.shadow or not s.source or ":" not in s.source:
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
        number = parse_digits(line)
        entry = parsed[path].get(number) if number is not None else None
        if entry is not None and entry.cron == s.cron:
            warnings.append(
                f"schedule {s.name!r} is active and its line {s.source} is still in the crontab:"
                " both cron and jobctl will run it (comment the line out)"
            )
    return warnings
