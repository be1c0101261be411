"""lock NAME -- CMD, lock list, lock release: named leases with fencing tokens."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from jobctl.cli import parse, render
from jobctl.cli.app import app
from jobctl.cli.context import state, wants_json
from jobctl.cli.options import Confirm, Output

if TYPE_CHECKING:
    from jobctl.clock import Clock


class _RunByDefault(TyperGroup):
    """`jobctl lock NAME … -- CMD` is `jobctl lock run NAME … -- CMD`."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


lock_app = typer.Typer(
    cls=_RunByDefault,
    help="Named locks: `jobctl lock NAME [--ttl 60s] [--wait D] -- CMD` runs CMD holding NAME.",
    no_args_is_help=True,
)
app.add_typer(lock_app, name="lock")

Name = Annotated[str, typer.Argument(help="The lock name.")]


@lock_app.command("run")
def lock_run(
    ctx: typer.Context,
    name: Name,
    command: Annotated[list[str], typer.Argument(help="The command (after --).")],
    ttl: Annotated[
        str, typer.Option(help="Lease; renewed every ttl/3 while CMD runs, expires if we die.")
    ] = "60s",
    wait: Annotated[
        str | None, typer.Option(help="If held: wait up to this long for it (else exit 75).")
    ] = None,
) -> None:
    """Run CMD holding lock NAME (CMD gets JOBCTL_LOCK_TOKEN); exit 75 when it is held."""
    from jobctl.cli.audit import audited
    from jobctl.clock import SystemClock
    from jobctl.ops.audit import current_actor
    from jobctl.ops.locks import validate

    ttl_s = parse.seconds(ttl, "--ttl")
    assert ttl_s is not None
    if ttl_s <= 0:
        from jobctl.errors import InvalidInput

        raise InvalidInput(f"invalid --ttl {ttl!r}: a lock needs a positive TTL")
    validate(name, ttl_s)
    wait_s = parse.seconds(wait, "--wait")
    args = {"command": command, "ttl": ttl, "wait": wait}
    with audited(ctx, "lock.run", name, args):
        code = _run(ctx, name, command, ttl_s, wait_s, current_actor().name, SystemClock())
    raise typer.Exit(code)


def _run(
    ctx: typer.Context, name: str, command: list[str], ttl: float, wait: float | None,
    actor: str, clock: Clock,
) -> int:  # fmt: skip
    import os
    import socket

    from jobctl.errors import InvalidInput, Unavailable
    from jobctl.ops.locks import busy_message
    from jobctl.runtime.leased import run_locked

    if not command:
        raise InvalidInput("lock: give the command after --")
    holder = f"{actor}@{socket.gethostname()}:{os.getpid()}"
    result = run_locked(
        state(ctx).client().store, name, command, clock, ttl, holder, wait, note=render.note
    )
    if result.kind == "busy":
        raise Unavailable(busy_message(result.lock))
    return result.exit_code


@lock_app.command("list")
def lock_list(ctx: typer.Context, output: Output = None) -> None:
    """Locks held now (by a live lease)."""
    from jobctl.clock import utcnow
    from jobctl.ops.locks import held, lock_shape

    locks = held(state(ctx).client().store, utcnow())
    if wants_json(ctx, output):
        render.print_json([lock_shape(lock) for lock in locks])
        return
    render.print_table(
        ["name", "holder", "token", "acquired", "expires"],
        [
            [
                lock.name, lock.holder, lock.token, render.local_time(lock.acquired_at),
                render.local_time(lock.expires_at),
            ]
            for lock in locks
        ],
    )  # fmt: skip


@lock_app.command("release")
def lock_release(ctx: typer.Context, name: Name, confirm: Confirm = None) -> None:
    """Free a held lock whoever holds it (a stuck holder); needs --confirm NAME."""
    from jobctl.cli.audit import audited
    from jobctl.clock import utcnow
    from jobctl.ops.guard import confirm_name
    from jobctl.ops.locks import force_release, held_lock

    store = state(ctx).client().store
    held_lock(store, name, utcnow())  # NotFound before any prompt
    guard = lambda: confirm_name(f"release of lock {name}", name, confirm)  # noqa: E731
    with audited(ctx, "lock.release", name, {"confirm": confirm}, guard=guard):
        lock = force_release(store, name, utcnow())
    render.say(f"released lock {name} (held by {lock.holder}, token {lock.token})")
