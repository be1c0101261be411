"""schedule add | list | show | rm | pause | resume | run | promote | demote | next | missed |
import | export."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from jobctl.cli import parse, render
from jobctl.cli.app import app
from jobctl.cli.audit import audited
from jobctl.cli.context import state, wants_json
from jobctl.cli.options import Confirm, Output, Since, choice
from jobctl.domain.fires import DST_GAP_MODES, DST_REPEAT_MODES
from jobctl.domain.schedule import Misfire, Overlap

if TYPE_CHECKING:
    from jobctl.ops.crontab_import import ImportPlan

schedule_app = typer.Typer(
    help="Cron-style schedules with time zones done right.", no_args_is_help=True
)
app.add_typer(schedule_app, name="schedule")

Name = Annotated[str, typer.Argument(help="Schedule name.")]


@schedule_app.command("add")
def add(
    ctx: typer.Context,
    name: Name,
    command: Annotated[list[str] | None, typer.Argument(help="The command (after --).")] = None,
    cron: Annotated[
        str, typer.Option(help="5-field cron (6 with seconds), @daily, @every 5m.")
    ] = "",
    tz: Annotated[str | None, typer.Option(help="IANA time zone (default: the system's).")] = None,
    queue: Annotated[str | None, typer.Option("--queue", "-Q", help="Queue for its jobs.")] = None,
    overlap: Annotated[
        str, typer.Option(click_type=choice(Overlap), help="forbid, allow or replace.")
    ] = "forbid",
    misfire: Annotated[str, typer.Option(click_type=choice(Misfire), help="skip, once or all.")] = (
        "once"
    ),
    jitter: Annotated[str | None, typer.Option(help="Spread starts randomly in [0, D].")] = None,
    dst_gap: Annotated[
        str,
        typer.Option(
            click_type=choice(DST_GAP_MODES), help="Fixed-time job in a skipped hour: run|skip."
        ),
    ] = "run",
    dst_repeat: Annotated[
        str,
        typer.Option(
            click_type=choice(DST_REPEAT_MODES),
            help="Fixed-time job in a repeated hour: once|both.",
        ),
    ] = "once",
    timeout: Annotated[str | None, typer.Option(help="Timeout of each run.")] = None,
    max_attempts: Annotated[int | None, typer.Option(help="Attempts per run.")] = None,
    job_type: Annotated[str | None, typer.Option("--type", help="A job type from config.")] = None,
    payload: Annotated[str | None, typer.Option(help="JSON payload for --type.")] = None,
    shadow: Annotated[
        bool | None,
        typer.Option(
            "--shadow/--no-shadow",
            help="Record fires without running (migration); default: config shadow_mode.",
        ),
    ] = None,
    on_node: Annotated[str | None, typer.Option(help="Its jobs run only on this node.")] = None,
    on_tag: Annotated[
        str | None, typer.Option(help="Its jobs run only on a daemon with this tag.")
    ] = None,
    on_every_node: Annotated[
        bool,
        typer.Option(
            "--on-every-node",
            help="Each fire runs one job on every live node (with --on-tag: every tagged one).",
        ),
    ] = False,
    stagger: Annotated[
        str | None,
        typer.Option(help="--on-every-node: spread the nodes' starts evenly over D."),
    ] = None,
    owner: Annotated[str | None, typer.Option(help="Who owns it (notification routes).")] = None,
    severity: Annotated[
        str | None, typer.Option(help="How critical it is, e.g. page (notification routes).")
    ] = None,
    ping: Annotated[
        str | None, typer.Option(help="Ping URL, healthchecks.io style (/start, /fail).")
    ] = None,
    max_runtime: Annotated[
        str | None, typer.Option(help="A run still going after D is reported too_long.")
    ] = None,
    min_runtime: Annotated[
        str | None, typer.Option(help="A success faster than D is reported too_short.")
    ] = None,
    deadline: Annotated[
        str | None, typer.Option(help="HH:MM (its zone) the day's run must be done by.")
    ] = None,
    pause_after: Annotated[
        int | None, typer.Option(help="Pause it after N consecutive failed runs.")
    ] = None,
    output: Output = None,
) -> None:
    """Create a schedule; lint warnings go to stderr."""
    from jobctl.clock import utcnow
    from jobctl.config.schedules import build_schedule
    from jobctl.errors import InvalidInput
    from jobctl.ops.schedules import lint_schedule, schedule_shape

    app_state = state(ctx)
    if not cron:
        raise InvalidInput("--cron is required")
    schedule = build_schedule(
        name,
        {
            "cron": cron,
            "tz": tz,
            "queue": queue,
            "command": command or None,
            "job_type": job_type,
            "payload": parse.payload(payload),
            "overlap": overlap,
            "misfire": misfire,
            "jitter": jitter,
            "dst_gap": dst_gap,
            "dst_repeat": dst_repeat,
            "timeout": timeout,
            "max_attempts": max_attempts,
            "shadow": shadow,
            "on_node": on_node,
            "on_tag": on_tag,
            "on_every_node": on_every_node,
            "stagger": stagger,
            "owner": owner,
            "severity": severity,
            "ping": ping,
            "max_runtime": max_runtime,
            "min_runtime": min_runtime,
            "deadline": deadline,
            "pause_after": pause_after,
        },
        flags=True,
    )
    config = app_state.config()
    if not config.knows_queue(schedule.queue):
        raise InvalidInput(f"unknown queue {schedule.queue!r}")
    if job_type and config.job_type(job_type) is None:
        raise InvalidInput(f"unknown job type {job_type!r}")
    store = app_state.client().store
    now = utcnow()
    warnings = lint_schedule(store, schedule, now)
    args = {
        "cron": cron, "tz": tz, "queue": queue, "command": command, "type": job_type,
        "owner": owner, "severity": severity, "max_runtime": max_runtime,
        "min_runtime": min_runtime, "deadline": deadline, "pause_after": pause_after,
        "ping": "***" if ping else None,
    }  # fmt: skip
    args |= {"on_node": on_node, "on_tag": on_tag, "stagger": stagger}
    args |= {"on_every_node": True} if on_every_node else {}
    with audited(ctx, "schedule.add", name, {k: v for k, v in args.items() if v is not None}):
        store.schedules.add(schedule, now)
    for warning in warnings:
        render.note(f"jobctl: warning: {warning}")
    if wants_json(ctx, output):
        shadow_mode = config.shadow_mode.enabled
        render.print_json(schedule_shape(store, store.schedules.get(name), now, shadow_mode))
    elif not app_state.quiet:
        render.note(f"schedule {name} added")


@schedule_app.command("list")
def list_schedules(ctx: typer.Context, output: Output = None) -> None:
    """Every schedule with its next and last run."""
    from jobctl.cli import views
    from jobctl.clock import utcnow
    from jobctl.ops.schedules import schedule_shape

    app_state = state(ctx)
    store, shadow_mode = app_state.client().store, app_state.config().shadow_mode.enabled
    now = utcnow()
    shapes = [schedule_shape(store, s, now, shadow_mode) for s in store.schedules.list()]
    if wants_json(ctx, output):
        render.print_json(shapes)
        return
    render.print_table(
        ["name", "cron", "tz", "queue", "state", "next run", "last run", "last state", "lint"],
        [
            [
                s["name"],
                s["cron"],
                s["tz"],
                s["queue"],
                views.schedule_state(s["enabled"], s["shadow"]),
                s["next_run_at"],
                s["last_run_at"],
                s["last_state"],
                "p95 run time > interval" if s["run_time_warning"] else "",
            ]
            for s in shapes
        ],
    )


@schedule_app.command("show")
def show(ctx: typer.Context, name: Name, output: Output = None) -> None:
    """One schedule in full."""
    from jobctl.cli import views
    from jobctl.clock import utcnow
    from jobctl.ops.schedules import schedule_shape

    app_state = state(ctx)
    store, shadow_mode = app_state.client().store, app_state.config().shadow_mode.enabled
    shape = schedule_shape(store, store.schedules.get(name), utcnow(), shadow_mode)
    if wants_json(ctx, output):
        render.print_json(shape)
        return
    views.shape_fields({"state": views.schedule_state(shape["enabled"], shape["shadow"]), **shape})


def _set(ctx: typer.Context, name: str, action: str, message: str, **fields: object) -> None:
    from jobctl.cli.audit import caller
    from jobctl.clock import utcnow
    from jobctl.ops.admin import set_schedule

    set_schedule(state(ctx).client().store, name, action, caller(ctx), utcnow(), **fields)
    render.note(f"schedule {name} {message}")


@schedule_app.command("pause")
def pause(ctx: typer.Context, name: Name) -> None:
    """Stop firing (fires while paused are recorded as missed: paused)."""
    _set(ctx, name, "pause", "paused", enabled=0)


@schedule_app.command("resume")
def resume(ctx: typer.Context, name: Name) -> None:
    """Fire again."""
    _set(ctx, name, "resume", "resumed", enabled=1)


@schedule_app.command("promote")
def promote(ctx: typer.Context, name: Name) -> None:
    """Make a shadow schedule active: its fires run from now on."""
    _set(ctx, name, "promote", "promoted: active", shadow=0)


@schedule_app.command("demote")
def demote(
    ctx: typer.Context,
    names: Annotated[
        list[str] | None, typer.Argument(help="Schedule names.", show_default=False)
    ] = None,
    imported: Annotated[
        bool, typer.Option("--imported", help="Every imported schedule not in shadow yet.")
    ] = False,
    confirm: Confirm = None,
) -> None:
    """Back to shadow (fires recorded, nothing run): hand schedules back to cron. Several
    need --confirm with their count."""
    from jobctl.cli.audit import caller
    from jobctl.clock import utcnow
    from jobctl.errors import InvalidInput
    from jobctl.ops.admin import demote_schedules, imported_to_demote

    app_state = state(ctx)
    store = app_state.client().store
    if bool(names) == imported:
        raise InvalidInput("give schedule names or --imported")
    chosen = [s.name for s in imported_to_demote(store)] if imported else list(names or [])
    if not chosen:
        render.note("no imported schedule left to demote: all are in shadow")
        return
    done = demote_schedules(store, chosen, caller(ctx, confirm), utcnow(), imported=imported)
    for schedule in done:
        render.say(schedule.name)
    if not app_state.quiet:
        render.note(f"demoted {len(done)} schedule(s): shadow (fires recorded, nothing run)")
    for name in (s.name for s in done if s.origin == "config"):
        render.note(
            f"jobctl: warning: schedule {name!r} comes from the config: set `shadow: true`"
            " there too, or the next reload makes it active again"
        )


@schedule_app.command("export")
def export(
    ctx: typer.Context,
    names: Annotated[
        list[str] | None,
        typer.Argument(help="Schedule names (default: every one jobctl runs).", show_default=False),
    ] = None,
    system: Annotated[
        bool,
        typer.Option(help="/etc/cron.d format: a user column (the schedule's user, else yours)."),
    ] = False,
    output: Output = None,
) -> None:
    """Print a crontab reproducing the schedules (CRON_TZ per zone, % escaped); those cron
    cannot express are comments saying why, and exit 1."""
    from jobctl.errors import EXIT_FAILED
    from jobctl.ops.audit import current_actor
    from jobctl.ops.schedule_export import export_schedules

    app_state = state(ctx)
    store, config = app_state.client().store, app_state.config()
    found = export_schedules(store, config, names or [], system, current_actor().name)
    if wants_json(ctx, output):
        left = [{"name": x.name, "reason": x.reason} for x in found.left_out]
        render.print_json({"crontab": found.text, "written": found.written, "left_out": left})
    else:
        render.say_block(found.text)
    for left_out in found.left_out:
        render.note(f"jobctl: not exported {left_out.name}: {left_out.reason}")
    if found.left_out:
        raise typer.Exit(EXIT_FAILED)


@schedule_app.command("rm")
def rm(ctx: typer.Context, name: Name) -> None:
    """Delete a schedule (its jobs and fire history stay)."""
    with audited(ctx, "schedule.rm", name):
        state(ctx).client().store.schedules.remove(name)
    render.note(f"schedule {name} removed")


@schedule_app.command("run")
def run(ctx: typer.Context, name: Name) -> None:
    """Enqueue the schedule's job now, outside its timetable; prints the job id (an
    --on-every-node schedule: one job per live matching node, one id per line)."""
    from jobctl.cli.audit import caller
    from jobctl.clock import utcnow
    from jobctl.ops.admin import run_schedule

    app_state = state(ctx)
    store, config = app_state.client().store, app_state.config()
    for job_id in run_schedule(store, config, name, caller(ctx), utcnow()):
        render.say(str(job_id))


@schedule_app.command("next")
def next_(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="A cron expression or a schedule name.")],
    tz: Annotated[str | None, typer.Option(help="IANA time zone.")] = None,
    count: Annotated[int, typer.Option("-n", help="How many fires.")] = 5,
    from_: Annotated[
        str | None, typer.Option("--from", help="Start (default now); no offset = in --tz.")
    ] = None,
    output: Output = None,
) -> None:
    """The next fires, strictly after --from, in the zone and in UTC; DST-affected ones noted."""
    from jobctl.clock import utcnow
    from jobctl.errors import InvalidInput
    from jobctl.ops.schedules import next_listing

    if count < 1:
        raise InvalidInput(f"invalid -n {count}: at least 1")
    fires = next_listing(state(ctx).store_if_any(), target, tz, count, from_, utcnow())
    if wants_json(ctx, output):
        render.print_json(fires)
        return
    render.print_table(
        ["local", "utc", "dst"], [[f["local"], f["at"], f["dst_note"]] for f in fires]
    )


@schedule_app.command("missed")
def missed(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="Only this schedule.")] = None,
    since: Since = None,
    output: Output = None,
) -> None:
    """Nominal fires that did not run, and why (no_daemon, no_node, overlap, paused, shadow,
    dst_skip)."""
    from jobctl.clock import utcnow
    from jobctl.ops.schedules import missed_runs

    rows = missed_runs(state(ctx).client().store, name, parse.since(since, utcnow()))
    if wants_json(ctx, output):
        render.print_json(rows)
        return
    render.print_table(
        ["schedule", "nominal", "reason"],
        [[r["schedule"], r["nominal_at"], r["reason"]] for r in rows],
    )


@schedule_app.command("import")
def import_(
    ctx: typer.Context,
    crontab: Annotated[str, typer.Argument(help="A crontab file (- for stdin).")],
    system: Annotated[
        bool, typer.Option(help="/etc/crontab format: a user column, who each line runs as.")
    ] = False,
    user: Annotated[
        str | None, typer.Option(help="A user crontab's owner: its schedules run as this user.")
    ] = None,
    prefix: Annotated[str, typer.Option(help="Prefix of the created names.")] = "cron-",
    dry_run: Annotated[bool, typer.Option(help="Show what would be created.")] = False,
    shadow: Annotated[
        bool, typer.Option(help="Create shadow schedules (promote them after checking).")
    ] = True,
    output: Output = None,
) -> None:
    """Create schedules from a crontab (lines imported before are reported, not doubled);
    exit 1 when a line could not be imported (listed on stderr), 2 when the file cannot be
    read."""
    import sys
    from pathlib import Path

    from jobctl.clock import utcnow
    from jobctl.errors import EXIT_FAILED, InvalidInput
    from jobctl.ops.crontab_import import apply_import, plan_import
    from jobctl.ops.schedules import describe_command

    try:
        text = sys.stdin.read() if crontab == "-" else Path(crontab).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read crontab {crontab!r}: {exc}") from None
    store = state(ctx).client().store
    plan = plan_import(
        store, text, crontab, utcnow(), system=system, user=user, prefix=prefix, shadow=shadow
    )
    if not dry_run:
        args = {"system": system, "user": user, "prefix": prefix, "shadow": shadow}
        with audited(ctx, "schedule.import", crontab, args) as audit:
            apply_import(store, plan, utcnow())
            audit.args.update(created=[s.name for s in plan.create], rejected=len(plan.rejected))
    if wants_json(ctx, output):
        render.print_json(_import_document(plan, dry_run))
    else:
        verb = "would create" if dry_run else "created"
        for s in plan.create:
            render.say(
                _printable(f"{verb} {s.name}  {s.cron}  {describe_command(s)}  ({s.source})")
            )
        for e in plan.existing:
            changed = ": its line changed since (rm it and import again to take that)"
            render.say(_printable(f"exists {e.name}  ({e.source}){changed if e.changed else ''}"))
    for warning in plan.warnings:
        render.note(f"jobctl: warning: {warning}")
    for line in plan.notes:
        render.note(f"jobctl: note: {line}")
    for r in plan.rejected:
        where = f"{r.source}:{r.line}"
        render.note(_printable(f"jobctl: not imported {where}: {r.reason}: {r.raw.strip()}"))
    if plan.rejected:
        render.note(f"jobctl: {len(plan.rejected)} line(s) not imported")
        raise typer.Exit(EXIT_FAILED)


def _import_document(plan: ImportPlan, dry_run: bool) -> dict[str, object]:
    return {
        "created": [
            {
                "name": s.name,
                "cron": s.cron,
                "tz": s.tz,
                "command": s.command,
                "user": s.user,
                "shadow": s.shadow,
                "source": s.source,
            }
            for s in plan.create
        ],
        "existing": [
            {"name": e.name, "source": e.source, "changed": e.changed} for e in plan.existing
        ],
        "rejected": [
            {"source": r.source, "line": r.line, "text": r.raw, "reason": r.reason}
            for r in plan.rejected
        ],
        "notes": plan.notes,
        "warnings": plan.warnings,
        "dry_run": dry_run,
    }


def _printable(text: str) -> str:
    """Control characters of crontab text shown escaped (`\\n`, `\\x1b`), never sent."""
    return "".join(ch if ch.isprintable() or ch == "\t" else repr(ch)[1:-1] for ch in text)
