"""queue list | pause | resume | purge."""

from __future__ import annotations

from typing import Annotated

import typer

from jobctl.cli import render
from jobctl.cli.app import app
from jobctl.cli.context import state, wants_json
from jobctl.cli.options import Confirm, Output

queue_app = typer.Typer(help="Inspect, pause, resume and purge queues.", no_args_is_help=True)
app.add_typer(queue_app, name="queue")

QueueName = Annotated[str, typer.Argument(help="Queue name.")]


@queue_app.command("list")
def list_queues(ctx: typer.Context, output: Output = None) -> None:
    """Queues with their settings and current load."""
    app_state = state(ctx)
    config = app_state.config()
    report = app_state.client().status()
    rows = []
    for q in report.queues:
        conf = config.queue(q.queue)
        rows.append(
            {
                "name": q.queue,
                "concurrency": conf.concurrency if conf else None,
                "paused": q.paused,
                "ready": q.ready,
                "running": q.running,
                "max_depth": conf.max_depth if conf else None,
                "shed": conf.shed if conf else None,
                "rate_limit": conf.rate_limit if conf else None,
            }
        )
    if wants_json(ctx, output):
        render.print_json(rows)
        return
    headers = [
        "name",
        "concurrency",
        "paused",
        "ready",
        "running",
        "max_depth",
        "shed",
        "rate_limit",
    ]
    render.print_table(headers, [[r[h] for h in headers] for r in rows])


@queue_app.command()
def pause(ctx: typer.Context, name: QueueName) -> None:
    """Stop claiming from a queue (running jobs continue)."""
    from jobctl.cli.audit import audited

    with audited(ctx, "queue.pause", name):
        state(ctx).client().pause_queue(name, True)
    render.note(f"queue {name} paused")


@queue_app.command()
def resume(ctx: typer.Context, name: QueueName) -> None:
    """Claim from a paused queue again."""
    from jobctl.cli.audit import audited

    with audited(ctx, "queue.resume", name):
        state(ctx).client().pause_queue(name, False)
    render.note(f"queue {name} resumed")


@queue_app.command()
def purge(ctx: typer.Context, name: QueueName, confirm: Confirm = None) -> None:
    """Cancel every job of the queue that has not started (needs --confirm QUEUE)."""
    from jobctl.cli.audit import audited
    from jobctl.ops.guard import confirm_name

    client = state(ctx).client()
    if not client.config.knows_queue(name):
        from jobctl.errors import InvalidInput

        raise InvalidInput(f"unknown queue {name!r}")
    guard = lambda: confirm_name(f"purge of queue {name}", name, confirm)  # noqa: E731
    with audited(ctx, "queue.purge", name, {"confirm": confirm}, guard=guard):
        count = client.purge_queue(name)
    render.say(f"purged {count} job(s) from queue {name}")
