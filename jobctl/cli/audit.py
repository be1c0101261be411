"""`jobctl audit`, and `audited()`: the one way CLI commands record what they change."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any

import typer

from jobctl.cli import parse, render
from jobctl.cli.app import app
from jobctl.cli.context import state, wants_json
from jobctl.cli.options import Output, Since
from jobctl.domain.audit import AuditEntry, ids_target

__all__ = ["Audit", "audited", "ids_target"]


@dataclass
class Audit:
    """What will be recorded; the block may fill in what it learns (e.g. new job ids).
    A block that commits the entry with its own change (`entry()` handed to the store, one
    transaction instead of two) sets `recorded` so that it is not written twice."""

    target: str | None
    args: dict[str, Any] = field(default_factory=dict)
    recorded: bool = False
    build: Callable[[Audit, str], AuditEntry] | None = field(default=None, repr=False)

    def entry(self, outcome: str = "ok") -> AuditEntry:
        """The entry as it stands now (secrets redacted)."""
        assert self.build is not None
        return self.build(self, outcome)


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
    from jobctl.errors import InvalidInput, JobctlError, Refused
    from jobctl.ops.audit import current_actor, entry

    app_state = state(ctx)

    def build(audit: Audit, outcome: str) -> AuditEntry:
        return entry(
            utcnow(),
            current_actor(),
            app_state.request_id,
            action,
            audit.target,
            audit.args,
            outcome,
        )

    outcome: str | None = "failed"  # None: record nothing
    audit = Audit(target, dict(args or {}), build=build)
    try:
        if guard is not None:
            guard()
            render.note(f"jobctl: request id {app_state.request_id}")
        yield audit
        outcome = "ok"
    except Refused:
        outcome = "refused"
        raise
    except InvalidInput:
        outcome = None
        raise
    except typer.Exit as exc:  # a wrapper's own exit code
        outcome = "ok" if exc.exit_code == 0 else "failed"
        raise
    finally:
        if outcome is not None and not (outcome == "ok" and audit.recorded):
            with contextlib.suppress(JobctlError):
                app_state.client().store.audit.record(audit.entry(outcome))


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
