"""notify list | show | test | retry: notification deliveries and channels."""

from __future__ import annotations

from typing import Annotated

import typer

from jobctl.cli import render
from jobctl.cli.app import app
from jobctl.cli.context import state, wants_json
from jobctl.cli.options import Output

notify_app = typer.Typer(
    help="Notifications: deliveries of failure, missed-run and recovery events.",
    no_args_is_help=True,
)
app.add_typer(notify_app, name="notify")

DeliveryId = Annotated[str, typer.Argument(help="Notification (delivery) id.")]


def _id(text: str) -> int:
    from jobctl.errors import InvalidInput

    if not text.isdigit() or int(text) < 1:
        raise InvalidInput(f"invalid notification id {text!r}: ids are whole numbers")
    return int(text)


@notify_app.command("list")
def list_notifications(
    ctx: typer.Context,
    state_: Annotated[
        str | None,
        typer.Option(
            "--state",
            help="pending, sending, retrying, delivered, dead or folded.",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 100,
    output: Output = None,
) -> None:
    """Deliveries, newest first: event, subject, channel, state, attempts, answer."""
    from jobctl.ops.notify import delivery_shape, list_deliveries

    found = list_deliveries(state(ctx).client().store, state_, limit)
    shapes = [delivery_shape(d) for d in found]
    if wants_json(ctx, output):
        render.print_json(shapes)
        return
    render.print_table(
        ["id", "event", "subject", "route", "channel", "state", "tries", "created", "last"],
        [
            [s["id"], s["event"], s["subject"], s["route"], s["channel"], s["state"],
             s["attempts"], render.local_time(s["created_at"]), s["error"] or s["answer"]]
            for s in shapes
        ],
    )  # fmt: skip


@notify_app.command("show")
def show(ctx: typer.Context, delivery: DeliveryId, output: Output = None) -> None:
    """One delivery with its event (or a digest with the events it carried)."""
    from jobctl.ops.notify import delivery_shape, event_shape

    found = state(ctx).client().store.notify.get(_id(delivery))
    shape = delivery_shape(found)
    events = [found.event] if found.event else list(found.folded)
    shape["events"] = [event_shape(e) for e in events]
    if wants_json(ctx, output):
        render.print_json(shape)
        return
    render.fields([(k, v) for k, v in shape.items() if k not in ("events", "folded")])
    for event in shape["events"]:
        render.say("")
        render.fields([(k, v) for k, v in event.items() if k != "output_tail"], skip_none=True)
        if event.get("output_tail"):
            render.say("output_tail")
            render.say_block(event["output_tail"])


@notify_app.command("retry")
def retry(ctx: typer.Context, delivery: DeliveryId, output: Output = None) -> None:
    """Send a dead (or retrying) delivery again now, with a fresh retry budget."""
    from jobctl.cli.audit import audited
    from jobctl.clock import utcnow
    from jobctl.ops.notify import delivery_shape, retry_delivery

    delivery_id = _id(delivery)
    store = state(ctx).client().store
    with audited(ctx, "notify.retry", str(delivery_id)):
        done = retry_delivery(store, delivery_id, utcnow())
    if wants_json(ctx, output):
        render.print_json(delivery_shape(done))
    elif not state(ctx).quiet:
        render.note(f"notification {delivery_id} is due again (a running daemon sends it)")


@notify_app.command("test")
def test(
    ctx: typer.Context,
    channel: Annotated[str, typer.Argument(help="Channel name from config notify.channels.")],
    output: Output = None,
) -> None:
    """Send a test event through CHANNEL now and print its answer (exit 1 if it failed)."""
    import socket

    from jobctl.clock import utcnow
    from jobctl.ops.notify import test_channel
    from jobctl.ops.notify.channels import SendFailed

    config = state(ctx).config()
    try:
        answer = test_channel(config, channel, utcnow(), socket.gethostname())
    except SendFailed as exc:
        if wants_json(ctx, output):
            render.print_json({"channel": channel, "ok": False, "error": str(exc),
                               "answer": exc.answer})  # fmt: skip
            raise typer.Exit(1) from None
        raise
    if wants_json(ctx, output):
        render.print_json({"channel": channel, "ok": True, "answer": answer, "error": None})
    else:
        render.say(f"{channel}: {answer}")
