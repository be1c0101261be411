"""node list / drain / resume / forget: the nodes of a cluster (SPEC "Cluster operations")."""

from __future__ import annotations

from typing import Annotated

import typer

from jobctl.cli import render
from jobctl.cli.app import app
from jobctl.cli.context import state, wants_json
from jobctl.cli.options import Confirm, Output

node_app = typer.Typer(
    help="Cluster nodes: list, drain (stop claiming), resume, forget (gone for good).",
    no_args_is_help=True,
)
app.add_typer(node_app, name="node")

NodeName = Annotated[str, typer.Argument(help="The node name (`jobctl node list`).")]


@node_app.command("list")
def node_list(ctx: typer.Context, output: Output = None) -> None:
    """Nodes: host, tags, version, started, last heartbeat, state (active|draining|dead)."""
    from jobctl.ops.nodes import list_nodes, node_shape, node_state

    nodes = list_nodes(state(ctx).client().store)
    if wants_json(ctx, output):
        render.print_json([node_shape(n) for n in nodes])
        return
    render.print_table(
        ["node", "host", "tags", "version", "started", "last heartbeat", "state", "running"],
        [
            [
                n.name, n.host, ",".join(n.tags) or "-", n.version or "-",
                render.local_time(n.started_at), render.local_time(n.heartbeat_at),
                node_state(n) + (" (draining)" if n.draining and not n.alive else ""),
                n.running,
            ]
            for n in nodes
        ],
    )  # fmt: skip


@node_app.command("drain")
def node_drain(
    ctx: typer.Context,
    name: NodeName,
    now: Annotated[
        bool,
        typer.Option("--now", help="Also put its running jobs back (no attempt spent)."),
    ] = False,
) -> None:
    """Stop NODE claiming jobs (at once); running jobs finish, or with --now are put back."""
    from jobctl.cli.audit import audited
    from jobctl.ops.nodes import drain, known_node

    store = state(ctx).client().store
    known_node(store, name)  # NotFound (exit 3) before anything is written
    with audited(ctx, "node.drain", name, {"now": now}):
        node = drain(store, name, store.now(), put_back=now)
    what = "its running jobs are put back" if now else f"{node.running} running job(s) finish"
    render.say(f"node {render.escape(name)} draining: it claims no more jobs; {what}")


@node_app.command("resume")
def node_resume(ctx: typer.Context, name: NodeName) -> None:
    """Let a drained NODE claim jobs again."""
    from jobctl.cli.audit import audited
    from jobctl.ops.nodes import known_node, resume

    store = state(ctx).client().store
    known_node(store, name)
    with audited(ctx, "node.resume", name):
        resume(store, name, store.now())
    render.say(f"node {render.escape(name)} resumed: it claims jobs again")


@node_app.command("forget")
def node_forget(ctx: typer.Context, name: NodeName, confirm: Confirm = None) -> None:
    """NODE is gone for good: its jobs' leases expire at once; needs --confirm NODE."""
    from jobctl.cli.audit import audited
    from jobctl.ops.guard import confirm_name
    from jobctl.ops.nodes import forget, known_node

    store = state(ctx).client().store
    known_node(store, name)
    guard = lambda: confirm_name(f"forget of node {name}", name, confirm)  # noqa: E731
    with audited(ctx, "node.forget", name, {"confirm": confirm}, guard=guard) as audit:
        result = forget(store, name, store.now())
        audit.args = {**(audit.args or {}), "leases_expired": result.leases_expired}
    shown = render.escape(name)
    render.say(
        f"node {shown} forgotten: {result.leases_expired} lease(s) expired; other nodes"
        " re-queue those jobs"
    )
    if result.was_alive:
        render.note(
            f"jobctl: warning: node {shown} still had a live daemon: it claims nothing more"
            " and puts its running jobs back"
        )
