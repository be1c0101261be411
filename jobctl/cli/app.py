"""The typer app and its global options (SPEC "Global conventions")."""

from __future__ import annotations

from typing import Annotated

import typer

from jobctl import __version__
from jobctl.cli.context import AppState
from jobctl.cli.lazy import LazyGroup
from jobctl.cli.options import OUTPUT_FORMATS, choice

app = typer.Typer(
    name="jobctl",
    cls=LazyGroup,  # commands register when first used: see jobctl/cli/lazy.py
    help="Scheduler and ops toolkit for single hosts and small clusters: a durable job queue "
    "on SQLite, a daemon that runs it, and the on-call CLI.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"jobctl {__version__}")
        raise typer.Exit()


@app.callback()
def global_options(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option("--db", envvar="JOBCTL_DB", help="Database path or URL.", show_default=False),
    ] = None,
    config: Annotated[
        str | None,
        typer.Option("--config", envvar="JOBCTL_CONFIG", help="Config file (YAML or TOML)."),
    ] = None,
    output: Annotated[
        str,
        typer.Option(
            "--output",
            "-o",
            envvar="JOBCTL_OUTPUT",
            click_type=choice(OUTPUT_FORMATS),
            help="Output: table or json.",
        ),
    ] = "table",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print less.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Print more details.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Global options apply to every command."""
    ctx.obj = AppState(db=db, config_path=config, output=output, quiet=quiet, verbose=verbose)
    ctx.call_on_close(ctx.obj.close)
