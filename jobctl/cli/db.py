"""db backup | check | copy."""

from __future__ import annotations

from typing import Annotated

import typer

from jobctl.cli import render
from jobctl.cli.app import app
from jobctl.cli.context import state, wants_json
from jobctl.cli.options import Output

db_app = typer.Typer(help="Back up, check and copy the database.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("backup")
def backup(
    ctx: typer.Context,
    path: Annotated[str, typer.Argument(help="Where to write the copy (a new file).")],
    force: Annotated[bool, typer.Option(help="Replace PATH if it exists.")] = False,
) -> None:
    """Copy the database online (consistent while daemons write) into one file."""
    from jobctl.cli.audit import audited
    from jobctl.ops.backup import backup as backup_db
    from jobctl.store import open_store

    app_state = state(ctx)
    existing = open_store(app_state.db_url, create=False)  # NotFound: audited() creates none
    db = existing.url
    existing.close()
    with audited(ctx, "db.backup", path, {"force": force}) as audit:
        copied = backup_db(app_state.db_url, path, force)
        audit.args.update(size=copied.size, jobs=copied.jobs)
    render.say(str(copied.path))
    if not app_state.quiet:
        render.note(f"backed up {db} to {copied.path}: {copied.size} bytes, {copied.jobs} jobs")


@db_app.command("check")
def check(ctx: typer.Context, output: Output = None) -> None:
    """Integrity, the schema version against this jobctl's, and the invariants between the
    tables (running jobs hold a lease and an open attempt, ...); exit 1 on any problem."""
    from jobctl.ops.backup import check as check_db

    report = check_db(state(ctx).db_url)
    if wants_json(ctx, output):
        render.print_json(
            {
                "path": report.path,
                "ok": report.ok,
                "integrity_check": report.integrity,
                "quick_check": report.quick,
                "schema_version": report.schema_version,
                "expected_schema_version": report.expected_version,
                "invariants": report.invariants,
                "problems": report.problems,
                "notes": report.notes,
            }
        )
    else:
        render.say(f"database: {report.path}")
        render.say(f"integrity_check: {_summary(report.integrity)}")
        render.say(f"quick_check: {_summary(report.quick)}")
        render.say(
            f"schema version: {report.schema_version} (this jobctl: {report.expected_version})"
        )
        if report.invariants:
            render.say(f"invariants: {_summary(report.invariants)}")
        for note in report.notes:
            render.note(f"jobctl: note: {note}")
        for problem in report.problems:
            render.note(f"jobctl: problem: {problem}")
        render.say("ok" if report.ok else f"{len(report.problems)} problem(s)")
    if not report.ok:
        raise typer.Exit(1)


@db_app.command("copy")
def copy(
    ctx: typer.Context,
    src: Annotated[
        str, typer.Argument(metavar="SRC", help="The database to copy: a path or a URL.")
    ],
    dest: Annotated[
        str,
        typer.Argument(
            metavar="DEST", help="An empty database to copy into (created when missing)."
        ),
    ],
    output: Output = None,
) -> None:
    """Copy a whole jobctl database into an empty one, between SQLite and PostgreSQL either
    way: all or nothing, ids kept, the source only read."""
    from jobctl.cli.copy_progress import CopyProgress
    from jobctl.ops.db_copy import copy as copy_db

    app_state = state(ctx)
    with CopyProgress(app_state.quiet) as bar:
        result = copy_db(src, dest, app_state.request_id, bar.update)
    if wants_json(ctx, output):
        render.print_json(
            {
                "source": result.source,
                "destination": result.destination,
                "rows": result.rows,
                "tables": result.tables,
            }
        )
        return
    tables = ", ".join(f"{t} {n}" for t, n in result.tables.items() if n) or "no rows"
    render.say(f"copied {result.rows} rows ({tables}) from {result.source} to {result.destination}")


def _summary(rows: list[str]) -> str:
    if rows == ["ok"]:
        return "ok"
    shown = "; ".join(rows[:5])
    return shown + (f" (and {len(rows) - 5} more)" if len(rows) > 5 else "")
