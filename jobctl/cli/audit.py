"""`jobctl audit`, and `audited()`: the one way CLI commands record what they change."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Annotated, Any

import typer

from jobctl.cli import parse, render
from jobctl.cli.app import app
from jobctl.cli.context import state, wants_json
from jobctl.cli.options import Output, Since
from jobctl.domain.audit import ids_target

if TYPE_CHECKING:
    from jobctl.ops.audit import Audit, Caller

__all__ = ["audited", "caller", "ids_target"]


def caller(ctx: typer.Context, confirm: str | None = None) -> Caller:
    """The person at this CLI: their identity, this invocation's request id, the `--confirm`
    they gave (a TTY user may be prompted instead)."""
    from jobctl.ops.audit import Caller, current_actor

    request_id = state(ctx).request_id
    return Caller(
        current_actor(),
        request_id,
        confirm,
        prompt=True,
        outcome=cli_outcome,
        confirmed=lambda: render.note(f"jobctl: request id {request_id}"),
    )


def cli_outcome(exc: BaseException) -> str | None:
    """A wrapper's own `typer.Exit` is `ok` when 0, else `failed`; errors as ops.audit says."""
    from jobctl.ops.audit import outcome_of

    if isinstance(exc, typer.Exit):
        return "ok" if exc.exit_code == 0 else "failed"
    return outcome_of(exc)


@contextlib.contextmanager
def audited(
    ctx: typer.Context,
    action: str,
    target: str | None,
    args: dict[str, Any] | None = None,
    guard: Callable[[], None] | None = None,
) -> Iterator[Audit]:
    """Record `action` on `target` in the audit log with its outcome: `ok`, `refused` (a
    guard rail said no) or `failed`. Invalid input (exit 2) records nothing: it changed
    nothing, and SPEC has it write nothing at all. A dangerous action passes its `guard`
    (see ops.guard) first; once it is confirmed, its request id is printed on stderr. The
    yielded Audit may be updated inside the block (target, args)."""
    from jobctl.clock import utcnow
    from jobctl.ops.audit import audited as ops_audited

    app_state = state(ctx)
    with ops_audited(
        lambda: app_state.client().store,
        caller(ctx),
        action,
        target,
        args,
        guard,
        now=utcnow,
    ) as audit:
        yield audit


@app.command("audit")
def audit_list(
    ctx: typer.Context,
    since: Since = None,
    action: Annotated[
        list[str] | None,
        typer.Option("--action", help="Only this action, or a prefix like sweep (repeatable)."),
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many of the newest entries.")] = 1000,
    output: Output = None,
) -> None:
    """The audit log: who changed what, when, from where (oldest first)."""
    from jobctl.clock import utcnow
    from jobctl.errors import InvalidInput
    from jobctl.ops.audit import query
    from jobctl.ops.shapes import audit_shape

    if limit < 1:
        raise InvalidInput(f"invalid --limit {limit}: must be at least 1")
    entries = query(state(ctx).client().store, parse.since(since, utcnow()), action or (), limit)
    if wants_json(ctx, output):
        render.print_json([audit_shape(e) for e in entries])
        return
    render.print_table(
        ["at", "actor", "host", "request", "action", "target", "outcome"],
        [
            [
                render.local_time(e.at),
                e.actor,
                e.host,
                e.request_id,
                e.action,
                e.target,
                e.outcome,
            ]
            for e in entries
        ],
    )
