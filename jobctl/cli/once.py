"""once run | list | show | reset | apply: commands that succeed at most once per DB."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperCommand

from jobctl.cli import parse, render
from jobctl.cli.app import app
from jobctl.cli.context import state, wants_json
from jobctl.cli.options import Confirm, Output

if TYPE_CHECKING:
    from jobctl.clock import Clock

once_app = typer.Typer(
    help="Run-once: commands (maintenance migrations) that succeed at most once per DB.",
    no_args_is_help=True,
)
app.add_typer(once_app, name="once")

Name = Annotated[str, typer.Argument(help="The run-once name.")]
FOREVER = "forever"


class _OptionalWaitValue(TyperCommand):
    """`--wait` alone waits forever; `--wait D` waits at most D."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        head = args.index("--") if "--" in args else len(args)
        for at in range(head):
            following = args[at + 1] if at + 1 < len(args) else "-"
            if args[at] == "--wait" and (at + 1 == head or following.startswith("-")):
                args = [*args[:at], f"--wait={FOREVER}", *args[at + 1 :]]
                break
        return super().parse_args(ctx, args)


def _wait_seconds(text: str | None) -> float | None:
    if text is None:
        return None
    if text == FOREVER:
        return math.inf
    return parse.seconds(text, "--wait")


@once_app.command("run", cls=_OptionalWaitValue)
def once_run(
    ctx: typer.Context,
    name: Name,
    command: Annotated[list[str], typer.Argument(help="The command (after --).")],
    resumable: Annotated[
        bool, typer.Option(help="After a failure, restart with JOBCTL_CHECKPOINT set.")
    ] = False,
    wait: Annotated[
        str | None,
        typer.Option(
            "--wait", metavar="[D]", help="If it runs elsewhere: wait (at most D) for it to end."
        ),
    ] = None,
) -> None:
    """Run CMD unless NAME already succeeded (then say when); 75 if it runs elsewhere."""
    from jobctl.cli.audit import audited
    from jobctl.clock import SystemClock
    from jobctl.ops.audit import current_actor
    from jobctl.ops.once import validate_name

    validate_name(name)
    seconds = _wait_seconds(wait)
    args = {"command": command, "resumable": resumable, "wait": wait}
    with audited(ctx, "once.run", name, args):
        code = _run_one(ctx, name, command, resumable, seconds, current_actor().name, SystemClock())
    raise typer.Exit(code)


def _run_one(
    ctx: typer.Context, name: str, command: list[str], resumable: bool, wait: float | None,
    actor: str, clock: Clock,
) -> int:  # fmt: skip
    """Run NAME once; the wrapper's exit code (0 when already done). Busy → Unavailable."""
    from jobctl.errors import Unavailable
    from jobctl.ops.once import busy_message, done_message
    from jobctl.runtime.leased import run_once

    app_state = state(ctx)
    client = app_state.client()
    result = run_once(
        client.store, app_state.db_url, name, command, clock, client.log_dir, actor,
        resumable=resumable, wait=wait, note=render.note,
    )  # fmt: skip
    if result.kind == "busy":
        raise Unavailable(busy_message(result.record))
    if result.kind == "done":
        render.say(done_message(result.record))
    return result.exit_code


@once_app.command("list")
def once_list(ctx: typer.Context, output: Output = None) -> None:
    """Every run-once record, by name."""
    from jobctl.clock import utcnow
    from jobctl.ops.once import effective_state, once_shape
    from jobctl.runtime.leased import alive_here

    now = utcnow()
    records = state(ctx).client().store.once.list()
    if wants_json(ctx, output):
        render.print_json([once_shape(r, now, alive_here) for r in records])
        return
    render.print_table(
        ["name", "state", "actor", "started", "finished", "exit", "checkpoint"],
        [
            [
                r.name, effective_state(r, now, alive_here), r.actor,
                render.local_time(r.started_at), render.local_time(r.finished_at), r.exit_code,
                r.checkpoint,
            ]
            for r in records
        ],
    )  # fmt: skip


@once_app.command("show")
def once_show(ctx: typer.Context, name: Name, output: Output = None) -> None:
    """One record: state, actor, times, exit code, checkpoint, output tail."""
    from jobctl.cli import views
    from jobctl.clock import utcnow
    from jobctl.ops.once import once_shape
    from jobctl.runtime.leased import alive_here

    shape = once_shape(state(ctx).client().store.once.get(name), utcnow(), alive_here)
    if wants_json(ctx, output):
        render.print_json(shape)
        return
    views.shape_fields({k: v for k, v in shape.items() if v is not None}, skip=("output_tail",))
    views.output_tail(shape["output_tail"])


@once_app.command("reset")
def once_reset(ctx: typer.Context, name: Name, confirm: Confirm = None) -> None:
    """Forget NAME's record so that it may run again (needs --confirm NAME)."""
    from jobctl.cli.audit import audited
    from jobctl.clock import utcnow
    from jobctl.ops import once
    from jobctl.ops.guard import confirm_name
    from jobctl.runtime.leased import alive_here

    store = state(ctx).client().store
    store.once.get(name)  # NotFound before any prompt
    guard = lambda: confirm_name(f"reset of run-once {name}", name, confirm)  # noqa: E731
    with audited(ctx, "once.reset", name, {"confirm": confirm}, guard=guard):
        record = once.reset(store, name, utcnow(), alive_here)
    render.say(f"reset {name} (was {record.state}); it may run again")


@once_app.command("apply")
def once_apply(
    ctx: typer.Context,
    directory: Annotated[str, typer.Argument(help="A directory of executable scripts.")],
) -> None:
    """Run each executable in DIR (name order) once, as DIRNAME/FILE; stop at the first
    failure and exit with its code."""
    from jobctl.cli.audit import audited
    from jobctl.clock import SystemClock
    from jobctl.errors import Unavailable
    from jobctl.ops.audit import current_actor
    from jobctl.ops.once import scripts_in

    scripts = scripts_in(directory)
    actor, clock = current_actor().name, SystemClock()
    report: list[tuple[str, str]] = []
    code = 0
    with audited(ctx, "once.apply", directory, {"scripts": [s.name for s in scripts]}):
        try:
            for script in scripts:
                code, outcome = _apply_one(ctx, script.name, str(script.path), actor, clock)
                report.append((script.name, outcome))
                if code != 0:
                    break
        except Unavailable as exc:
            report.append((script.name, "busy: running elsewhere"))
            _print_report(report, len(scripts))
            raise exc
        _print_report(report, len(scripts))
        if code != 0:
            raise typer.Exit(code)


def _apply_one(
    ctx: typer.Context, name: str, path: str, actor: str, clock: Clock
) -> tuple[int, str]:
    from jobctl.ops.once import done_message
    from jobctl.runtime.leased import run_once

    app_state = state(ctx)
    client = app_state.client()
    result = run_once(
        client.store, app_state.db_url, name, [path], clock, client.log_dir, actor,
        note=render.note,
    )  # fmt: skip
    if result.kind == "busy":
        from jobctl.errors import Unavailable
        from jobctl.ops.once import busy_message

        raise Unavailable(busy_message(result.record))
    if result.kind == "done":
        return 0, done_message(result.record).split(": ", 1)[1]
    return (
        result.exit_code,
        "ran: ok" if result.exit_code == 0 else f"FAILED: exit {result.exit_code}",
    )


def _print_report(report: list[tuple[str, str]], total: int) -> None:
    render.say("")
    for name, outcome in report:
        render.say(f"{name}: {outcome}")
    if len(report) < total:
        render.say(f"({total - len(report)} not run: stopped at the first failure)")
