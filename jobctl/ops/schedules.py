"""Schedule operations for the CLI: views, `next`, lint on add, missed runs (crontab import:
`ops.crontab_import`)."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from jobctl.config.schedules import build_schedule, check_zone, local_zone_name
from jobctl.domain.cron import CronExpr, parse_cron
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
from jobctl.ops.nodes import fire_nodes

if TYPE_CHECKING:
    from jobctl.store.protocol import Store
    from jobctl.store.repos.schedules import LastFire


SAME_INSTANT_WARN = 5  # this many schedules firing at one instant without jitter: warn
RUN_TIME_SAMPLE = 50  # the run-time lint's p95 is over at most this many latest attempts


def schedule_shape(
    store: Store, s: Schedule, now: datetime, shadow_mode: bool = False
) -> dict[str, Any]:
    """The schedule's JSON (SPEC shapes); `shadow` is in effect: its own, else `shadow_mode`."""
    expr, tz = parse_cron(s.cron), ZoneInfo(s.tz)
    after = max(now, s.cursor_at) if s.cursor_at else now
    upcoming = next_fires(expr, tz, after, 1, dst_gap=s.dst_gap, dst_repeat=s.dst_repeat)
    last = store.schedules.last_run(s.name)
    fire = store.schedules.last_fire(s.name)
    nodes = fire_nodes(store, s.queue, s.on_tag, store.now()) if s.on_every_node else None
    return {
        "name": s.name,
        "cron": s.cron,
        "tz": s.tz,
        "queue": s.queue,
        "command": s.command,
        "job_type": s.job_type,
        "user": s.user,
        "on_node": s.on_node,
        "on_tag": s.on_tag,
        "on_every_node": s.on_every_node,
        "stagger": s.stagger,
        "enabled": s.enabled,
        "shadow": s.is_shadow(shadow_mode),
        "overlap": s.overlap.value,
        "misfire": s.misfire.value,
        "jitter": s.jitter,
        "dst_gap": s.dst_gap,
        "dst_repeat": s.dst_repeat,
        "owner": s.owner,
        "severity": s.severity,
        "ping": s.ping,
        "max_runtime": s.max_runtime,
        "min_runtime": s.min_runtime,
        "deadline": s.deadline,
        "pause_after": s.pause_after,
        "paused_reason": s.paused_reason,
        "mailto": s.mailto,
        "next_run_at": iso_z(upcoming[0].at) if upcoming and s.enabled else None,
        "last_run_at": iso_z(last.nominal_at) if last else None,
        "last_state": last.state if last else None,
        "last_job_id": last.job_id if last else None,
        "last_fire_at": iso_z(fire.nominal_at) if fire else None,
        "last_fire_outcome": fire.outcome if fire else None,
        "last_fire_jobs": [
            {"id": j.id, "node": j.on_node, "state": j.state} for j in (fire.jobs if fire else ())
        ],
        "nodes_now": nodes,
        "why": fire_note(s, fire, nodes),
        "origin": s.origin,
        "source": s.source,
        "run_time_warning": run_time_warning(store, s, now),
    }


def fire_note(s: Schedule, fire: LastFire | None, nodes: list[str] | None) -> str | None:
    """Why the schedule's last fire ran nothing, or why its next fire of an
    `--on-every-node` schedule would run nowhere; None when nothing needs saying."""
    where = f"with tag {s.on_tag!r} " if s.on_tag else ""
    nowhere = (
        f"no live, non-draining node {where}serves queue {s.queue!r}: start a daemon"
        + (f" with --tag {s.on_tag}" if s.on_tag else "")
        + " or resume a drained node (jobctl node list)"
    )
    if fire is not None and fire.outcome == Outcome.NO_NODE:
        return f"its last fire ({iso_z(fire.nominal_at)}) ran nowhere: {nowhere}"
    if nodes == []:
        return f"its next fire would run nowhere: {nowhere}"
    return None


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
    schedule's, else the system's. A `target` that is neither a schedule nor shaped like an
    expression (one word, no `@`) is NotFound; an expression that does not parse is
    InvalidInput naming the bad field."""
    try:
        s = store.schedules.get(target) if store is not None else None
    except NotFound:
        s = None
    if s is not None:
        expr, zone_name, gap, repeat = parse_cron(s.cron), tz or s.tz, s.dst_gap, s.dst_repeat
    else:
        if len(target.split()) == 1 and not target.strip().startswith("@"):
            raise NotFound(f"no schedule named {target!r} (and not a cron expression)")
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
