"""checkpoint get | set, dlq list | show | replay | purge."""

from __future__ import annotations

import os
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from jobctl.cli import parse, render
from jobctl.cli.app import app
from jobctl.cli.context import state, wants_json
from jobctl.cli.options import Confirm, Output, Queue, Since, choice
from jobctl.domain.job import FailureClass

if TYPE_CHECKING:
    from jobctl.store.repos.dlq import Replayed

FailureClassOpt = Annotated[
    str | None,
    typer.Option(
        "--class",
        click_type=choice(FailureClass),
        help="Failure class: exit, timeout, signal, spawn or lost.",
    ),
]
OlderThan = Annotated[
    str | None, typer.Option("--older-than", help="Only entries older than this duration.")
]

checkpoint_app = typer.Typer(
    help="Read or save the checkpoint of the current job or once-run (inside one).",
    no_args_is_help=True,
)
dlq_app = typer.Typer(
    help="The dead-letter queue: jobs that ran out of attempts.", no_args_is_help=True
)
app.add_typer(checkpoint_app, name="checkpoint")
app.add_typer(dlq_app, name="dlq")


@checkpoint_app.command("get")
def checkpoint_get(ctx: typer.Context) -> None:
    """Print the last saved checkpoint of the current job or once-run (nothing if none)."""
    from jobctl.ops import checkpoints

    value = checkpoints.get(state(ctx).client().store, checkpoints.current_owner(os.environ))
    if value is not None:
        render.say_block(value)


@checkpoint_app.command("set")
def checkpoint_set(
    ctx: typer.Context, value: Annotated[str, typer.Argument(help="The checkpoint to save.")]
) -> None:
    """Save a checkpoint; the next attempt (or resumable once-run) gets it in JOBCTL_CHECKPOINT."""
    from jobctl.ops import checkpoints

    checkpoints.save(state(ctx).client().store, checkpoints.current_owner(os.environ), value)


@dlq_app.command("list")
def dlq_list(
    ctx: typer.Context,
    queue: Queue = None,
    since: Since = None,
    older_than: OlderThan = None,
    class_: FailureClassOpt = None,
    output: Output = None,
) -> None:
    """Dead-letter entries, newest first."""
    from jobctl.clock import utcnow
    from jobctl.ops.shapes import dlq_shape

    now = utcnow()
    entries = (
        state(ctx)
        .client()
        .store.dlq.list(queue, parse.since(since, now), class_, older_than=_older(older_than, now))
    )
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
    """One dead-letter entry: payload, error, attempts, output tail."""
    from jobctl.cli import views
    from jobctl.ops.shapes import attempt_shape, dlq_shape

    client = state(ctx).client()
    dead = client.store.dlq.get(parse.job_id(entry))
    attempts = client.attempts(dead.job_id)
    shape = dlq_shape(dead)
    if wants_json(ctx, output):
        render.print_json({**shape, "attempt_log": [attempt_shape(a) for a in attempts]})
        return
    views.shape_fields(shape, skip=("output_tail",))
    views.attempts_table(attempts)
    views.output_tail(shape["output_tail"])


def _older(text: str | None, now: datetime) -> datetime | None:
    from jobctl.domain.durations import parse_duration

    return None if text is None else now - parse_duration(text, "--older-than")


@dlq_app.command("replay")
def dlq_replay(
    ctx: typer.Context,
    entries: Annotated[list[str] | None, typer.Argument(help="DLQ entry ids.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every entry (not yet replayed).")] = False,
    queue: Queue = None,
    class_: FailureClassOpt = None,
    since: Since = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be replayed; change nothing.")
    ] = False,
    again: Annotated[
        bool, typer.Option("--again", help="Replay entries that were replayed before.")
    ] = False,
    output: Output = None,
) -> None:
    """Re-run dead jobs as new jobs linked to their entries (skips keys held by live jobs)."""
    from jobctl.cli.audit import audited
    from jobctl.clock import utcnow
    from jobctl.ops import dlq

    now = utcnow()
    request = dlq.ReplayRequest(
        ids=tuple(parse.job_ids(entries)), all=all_, queue=queue, failure_class=class_,
        since=parse.since(since, now), again=again, dry_run=dry_run,
        request_id=state(ctx).request_id,
    )  # fmt: skip
    dlq.selection(request)  # bad input fails before anything is recorded
    store = state(ctx).client().store
    if dry_run:
        items = dlq.replay(store, request, now)
    else:
        target = "all" if all_ else ",".join(map(str, request.ids))
        args = {"queue": queue, "class": class_, "since": since, "again": again}
        with audited(ctx, "dlq.replay", target, args):
            items = dlq.replay(store, request, now)
    _replay_report(ctx, items, dry_run, output)


def _replay_report(
    ctx: typer.Context, items: list[Replayed], dry_run: bool, output: str | None
) -> None:
    from jobctl.ops.dlq import replay_shape

    shapes = [replay_shape(item, dry_run) for item in items]
    if wants_json(ctx, output):
        render.print_json(shapes)
        return
    for shape in shapes:
        if shape["action"] == "skipped":
            render.say(f"entry {shape['id']} (job {shape['job_id']}): skipped: {shape['reason']}")
        elif dry_run:
            render.say(f"entry {shape['id']} (job {shape['job_id']}): would be replayed")
        else:
            render.say(f"entry {shape['id']} (job {shape['job_id']}): replayed as job "
                       f"{shape['replayed_job_id']}")  # fmt: skip
    done = sum(s["action"] != "skipped" for s in shapes)
    verb = "would replay" if dry_run else "replayed"
    render.note(f"jobctl: {verb} {done} of {len(shapes)} entries")


@dlq_app.command("purge")
def dlq_purge(ctx: typer.Context, older_than: OlderThan = None, confirm: Confirm = None) -> None:
    """Delete dead-letter entries (all, or older than D); needs --confirm dlq."""
    from jobctl.cli.audit import audited
    from jobctl.clock import utcnow
    from jobctl.ops import dlq
    from jobctl.ops.guard import confirm_name

    cutoff = _older(older_than, utcnow())
    what = f"purge of DLQ entries older than {older_than}" if older_than else "purge of the DLQ"
    guard = lambda: confirm_name(what, "dlq", confirm)  # noqa: E731
    with audited(ctx, "dlq.purge", "dlq", {"older_than": older_than}, guard=guard):
        count = dlq.purge(state(ctx).client().store, cutoff)
    render.say(f"purged {count} DLQ entr{'y' if count == 1 else 'ies'}")
