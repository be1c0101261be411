"""token create | list | revoke: API tokens for the daemon's HTTP API."""

from __future__ import annotations

from typing import Annotated

import typer

from jobctl.cli import render
from jobctl.cli.app import app
from jobctl.cli.context import state, wants_json
from jobctl.cli.options import Output

token_app = typer.Typer(help="API tokens for the daemon's HTTP API.", no_args_is_help=True)
app.add_typer(token_app, name="token")

TokenName = Annotated[str, typer.Argument(help="Token name (shown as the audit actor).")]


@token_app.command("create")
def create(
    ctx: typer.Context,
    name: TokenName,
    scope: Annotated[
        str, typer.Option("--scope", help="Comma-separated scopes: enqueue, read, admin.")
    ] = "read",
    output: Output = None,
) -> None:
    """Create a token and print its secret (shown this once; only a hash is stored)."""
    from jobctl.cli.audit import audited
    from jobctl.clock import utcnow
    from jobctl.domain.durations import iso_z
    from jobctl.ops import tokens
    from jobctl.ops.audit import current_actor

    scopes = tokens.parse_scopes(scope)
    tokens.check_name(name)
    with audited(ctx, "token.create", name, {"scopes": list(scopes)}):
        made = tokens.create(
            state(ctx).client().store, name, scopes, utcnow(), current_actor().name
        )
    if wants_json(ctx, output):
        render.print_json(
            {
                "name": made.name,
                "scopes": list(made.scopes),
                "token": made.token,
                "created_at": iso_z(made.created_at),
            }
        )
        return
    render.say(made.token)
    render.note(f"token {name} ({','.join(scopes)}): store it now, it is not shown again")


@token_app.command("list")
def list_tokens(ctx: typer.Context, output: Output = None) -> None:
    """Live tokens: name, scopes, created (never the secret)."""
    from jobctl.domain.durations import iso_z
    from jobctl.ops import tokens

    found = tokens.live(state(ctx).client().store)
    if wants_json(ctx, output):
        render.print_json(
            [
                {
                    "name": t.name,
                    "scopes": list(t.scopes),
                    "created_at": iso_z(t.created_at),
                    "created_by": t.created_by,
                }
                for t in found
            ]
        )
        return
    render.print_table(
        ["name", "scopes", "created", "by"],
        [
            [t.name, ",".join(t.scopes), render.local_time(t.created_at), t.created_by]
            for t in found
        ],
    )


@token_app.command("revoke")
def revoke(ctx: typer.Context, name: TokenName) -> None:
    """Revoke a token: the API refuses it from now on (401)."""
    from jobctl.cli.audit import audited
    from jobctl.clock import utcnow
    from jobctl.ops import tokens

    with audited(ctx, "token.revoke", name):
        tokens.revoke(state(ctx).client().store, name, utcnow())
    render.note(f"token {name} revoked")
