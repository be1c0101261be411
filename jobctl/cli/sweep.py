"""sweep mark | list | show | unmark | run: mark-then-sweep deletes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from jobctl.cli import parse, render
from jobctl.cli.app import app
from jobctl.cli.context import state, wants_json
from jobctl.cli.options import Confirm, Output

if TYPE_CHECKING:
    from jobctl.domain.sweep import Sweep

sweep_app = typer.Typer(
    help="Mark rows to delete, keep a rollback window, then delete them in batches.",
    no_args_is_help=True,
)
app.add_typer(sweep_app, name="sweep")

SweepRef = Annotated[str, typer.Argument(help="Sweep id (or name).")]


def _store(ctx: typer.Context) -> Any:
    return state(ctx).client().store


def _show(ctx: typer.Context, sweep: Sweep, output: str | None) -> None:
    from jobctl.cli import views
    from jobctl.ops.sweep import sweep_shape

    shape = sweep_shape(sweep)
    if wants_json(ctx, output):
        render.print_json(shape)
        return
    views.shape_fields(shape)


@sweep_app.command("mark")
def mark(
    ctx: typer.Context,
    target: Annotated[
        str, typer.Option(help="Target DB: a path, sqlite:///x.db, postgresql://...")
    ],
    table: Annotated[str, typer.Option(help="The table to delete from.")],
    where: Annotated[str, typer.Option(help="SQL expression selecting the rows (read-only).")],
    name: Annotated[str | None, typer.Option(help="Sweep name (default sweep-ID).")] = None,
    grace: Annotated[str, typer.Option(help="Rollback window before a run may delete.")] = "24h",
    timeout: Annotated[
        str, typer.Option(help="Longest a statement evaluating --where may run (exit 1 past it).")
    ] = "30s",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the count and a sample; record nothing.")
    ] = False,
    output: Output = None,
) -> None:
    """Record the keys of the rows matching --where now (nothing is deleted)."""
    from jobctl.clock import utcnow
    from jobctl.ops import sweep as ops

    grace_s = parse.seconds(grace, "--grace") or 0.0
    timeout_s = parse.seconds(timeout, "--timeout") or 0.0
    request = ops.MarkRequest(target, table, where, name, grace_s, timeout=timeout_s)
    if dry_run:
        p = ops.preview(request)
        if wants_json(ctx, output):
            render.print_json(
                {
                    "target": p.target,
                    "table": p.table,
                    "predicate": p.predicate,
                    "count": p.count,
                    "sample": p.sample,
                }
            )
            return
        render.say(f"would mark {p.count} row(s) of {p.table} where {p.predicate}")
        for row in p.sample:
            render.say("  " + ", ".join(f"{k}={render.value(v)}" for k, v in row.items()))
        return
    from jobctl.cli.audit import audited
    from jobctl.ops.audit import current_actor
    from jobctl.store.targets import redact_url

    args: dict[str, Any] = {"target": redact_url(target), "table": table, "where": where,
                            "grace": grace_s}  # fmt: skip
    with audited(ctx, "sweep.mark", name or table, args) as audit:
        sweep = ops.mark(_store(ctx), request, utcnow(), current_actor().name)
        audit.target = sweep.name
        audit.args.update(id=sweep.id, name=sweep.name, marked=sweep.marked)
    if wants_json(ctx, output):
        _show(ctx, sweep, output)
        return
    render.say(
        f"sweep {sweep.id} ({sweep.name}): marked {sweep.marked} row(s) of {sweep.table};"
        f" grace until {render.local_time(sweep.grace_until)}"
    )
    render.note(f"to delete them: jobctl sweep run {sweep.id} --confirm {sweep.name}")


@sweep_app.command("list")
def list_sweeps(ctx: typer.Context, output: Output = None) -> None:
    """Sweeps, oldest first, with their counts and state."""
    from jobctl.ops import sweep as ops

    sweeps = ops.list_sweeps(_store(ctx))
    if wants_json(ctx, output):
        render.print_json([ops.sweep_shape(s) for s in sweeps])
        return
    render.print_table(
        ["id", "name", "state", "table", "marked", "deleted", "skipped", "grace until"],
        [
            [
                s.id,
                s.name,
                s.state,
                s.table,
                s.marked,
                s.deleted,
                s.skipped,
                render.local_time(s.grace_until),
            ]
            for s in sweeps
        ],
    )


@sweep_app.command("show")
def show(ctx: typer.Context, sweep: SweepRef, output: Output = None) -> None:
    """One sweep: target, table, predicate, counts, progress."""
    from jobctl.ops import sweep as ops

    _show(ctx, ops.find(_store(ctx), sweep), output)


@sweep_app.command("unmark")
def unmark(ctx: typer.Context, sweep: SweepRef, output: Output = None) -> None:
    """Rollback: forget the marks of a sweep (its rows stay)."""
    from jobctl.cli.audit import audited
    from jobctl.clock import utcnow
    from jobctl.ops import sweep as ops

    found = ops.find(_store(ctx), sweep)
    args = {"id": found.id, "marked": found.marked, "marked_by": found.marked_by}
    with audited(ctx, "sweep.unmark", found.name, args):
        result = ops.unmark(_store(ctx), found, utcnow())
    if wants_json(ctx, output):
        _show(ctx, result, output)
        return
    render.say(f"sweep {result.id} ({result.name}) unmarked: {result.remaining} row(s) kept")


@sweep_app.command("run")
def run(
    ctx: typer.Context,
    sweep: SweepRef,
    batch: Annotated[int, typer.Option(help="Rows per delete transaction.")] = 500,
    pause: Annotated[str, typer.Option(help="Pause between batches.")] = "50ms",
    max_rows: Annotated[
        int | None, typer.Option(help="Stop after this many rows (run again to go on).")
    ] = None,
    now: Annotated[bool, typer.Option("--now", help="Do not wait for the grace period.")] = False,
    confirm: Confirm = None,
    output: Output = None,
) -> None:
    """Delete the marked rows that still match (needs --confirm NAME); resumable."""
    from jobctl.cli.audit import audited
    from jobctl.cli.sweep_progress import SweepProgress
    from jobctl.clock import SystemClock, utcnow
    from jobctl.errors import InvalidInput
    from jobctl.ops import sweep as ops
    from jobctl.ops.audit import current_actor
    from jobctl.ops.guard import confirm_name
    from jobctl.ops.sweep_engine import RunOptions

    if batch < 1:
        raise InvalidInput(f"invalid --batch {batch}: must be at least 1")
    if max_rows is not None and max_rows < 1:
        raise InvalidInput(f"invalid --max-rows {max_rows}: must be at least 1")
    options = RunOptions(batch, parse.seconds(pause, "--pause") or 0.0, max_rows)
    store = _store(ctx)
    found = ops.find(store, sweep)

    def guard() -> None:
        confirm_name(f"sweep run of {found.name}", found.name, confirm)
        ops.check_run(found, utcnow(), now)

    args: dict[str, Any] = {
        "id": found.id,
        "confirm": confirm,
        "now": now,
        "batch": batch,
        "pause": pause,
        "max_rows": max_rows,
        "marked_by": found.marked_by,
        "marked": found.marked,
    }
    result = found
    with audited(ctx, "sweep.run", found.name, args, guard=guard) as audit:
        label = f"sweep {found.id} ({found.name})"
        with SweepProgress(label, found.marked, found.done, state(ctx).quiet) as bar:
            try:
                result = ops.run(store, found, options, SystemClock(), current_actor().name,
                                 on_progress=bar.update)  # fmt: skip
            finally:
                latest = store.sweeps.get(found.id)
                audit.args["result"] = {
                    "deleted": latest.deleted,
                    "skipped": latest.skipped,
                    "done": latest.done,
                    "state": latest.state,
                }
    if wants_json(ctx, output):
        _show(ctx, result, output)
        return
    verb = "done" if result.state == "done" else f"stopped at {result.done}/{result.marked}"
    render.say(
        f"sweep {result.id} ({result.name}) {verb}: deleted {result.deleted},"
        f" skipped {result.skipped} of {result.marked} marked"
    )
