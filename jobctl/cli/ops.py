"""checkpoint get | set, dlq list | show."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from jobctl.cli import parse, render
from jobctl.cli.app import app
from jobctl.cli.context import state, wants_json
from jobctl.cli.options import Output, Queue, Since

checkpoint_app = typer.Typer(
    help="Read or save the checkpoint of the current job (inside a job).", no_args_is_help=True
)
dlq_app = typer.Typer(
    help="The dead-letter queue: jobs that ran out of attempts.", no_args_is_help=True
)
app.add_typer(checkpoint_app, name="checkpoint")
app.add_typer(dlq_app, name="dlq")


def _current_job() -> int:
    from jobctl.errors import InvalidInput

    value = os.environ.get("JOBCTL_JOB_ID")
    if not value:
        raise InvalidInput("no current job: JOBCTL_JOB_ID is not set (run this inside a job)")
    return parse.job_id(value)


@checkpoint_app.command("get")
def checkpoint_get(ctx: typer.Context) -> None:
    """Print the last saved checkpoint of the current job (nothing if none)."""
    job = state(ctx).client().get(_current_job())
    if job.checkpoint is not None:
        render.say(job.checkpoint)


@checkpoint_app.command("set")
def checkpoint_set(
    ctx: typer.Context, value: Annotated[str, typer.Argument(help="The checkpoint to save.")]
) -> None:
    """Save a checkpoint; the job's next attempt gets it in JOBCTL_CHECKPOINT."""
    state(ctx).client().set_checkpoint(_current_job(), value)


@dlq_app.command("list")
def dlq_list(
    ctx: typer.Context,
    queue: Queue = None,
    since: Since = None,
    class_: Annotated[
        str | None, typer.Option("--class", help="Failure class: exit, timeout, signal, ...")
    ] = None,
    output: Output = None,
) -> None:
    """Dead-letter entries, newest first."""
    from jobctl.clock import utcnow
    from jobctl.ops.shapes import dlq_shape

    entries = state(ctx).client().store.dlq.list(queue, parse.since(since, utcnow()), class_)
    if wants_json(ctx, output):
        render.print_json([dlq_shape(e) for e in entries])
        return
    render.print_table(
        ["id", "job", "queue", "class", "created", "replayed as", "error"],
        [
            [
                e.id,
                e.job_id,
                e.queue,
                e.failure_class,
                render.local_time(e.created_at),
                e.replayed_job_id,
                (e.error or "")[:60],
            ]
            for e in entries
        ],
    )


@dlq_app.command("show")
def dlq_show(
    ctx: typer.Context,
    entry: Annotated[str, typer.Argument(help="DLQ entry id.")],
    output: Output = None,
) -> None:
    """One dead-letter entry: payload, error, output tail."""
    from jobctl.ops.shapes import dlq_shape

    shape = dlq_shape(state(ctx).client().store.dlq.get(parse.job_id(entry)))
    if wants_json(ctx, output):
        render.print_json(shape)
        return
    for name, value in shape.items():
        if name != "output_tail":
            render.say(f"{name}: {value}")
    if shape["output_tail"]:
        render.say("--- output tail ---")
        render.say(shape["output_tail"].rstrip("\n"))
