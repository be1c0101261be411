"""init, config check | show."""

from __future__ import annotations

from typing import Annotated

import typer

from jobctl.cli import render
from jobctl.cli.app import app
from jobctl.cli.context import state, wants_json
from jobctl.cli.options import Output

config_app = typer.Typer(help="Validate and show the configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@app.command()
def init(ctx: typer.Context) -> None:
    """Create the database and a commented example config (an existing config is kept)."""
    from jobctl.cli.audit import audited
    from jobctl.config.load import resolve_config_path
    from jobctl.ops.init import EXAMPLE_CONFIG
    from jobctl.paths import default_config_path

    app_state = state(ctx)
    path, _ = resolve_config_path(app_state.config_path)
    target = path or default_config_path()
    with audited(ctx, "init", app_state.db_url, {"config": str(target)}) as audit:
        if target.exists():
            render.note(f"config {target} exists: kept as it is")
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(EXAMPLE_CONFIG)
            audit.args["config_written"] = True
            render.note(f"wrote example config {target}")
        client = app_state.client()
        client.store  # noqa: B018  (opening creates and migrates the DB)
    render.say(str(client.db_url))


@config_app.command("check")
def check(
    ctx: typer.Context,
    file: Annotated[
        str | None, typer.Argument(help="Config file (default: the active one).")
    ] = None,
) -> None:
    """Validate a config: every problem listed with file:line; exit 2 if any."""
    from jobctl.config.check import check_config
    from jobctl.config.load import resolve_config_path
    from jobctl.errors import EXIT_USAGE

    path = file
    if path is None:
        found, _ = resolve_config_path(state(ctx).config_path)
        if found is None:
            render.say("no config file: defaults apply")
            return
        path = str(found)
    _config, problems = check_config(path, host_checks=True)
    _warn_double_dispatch(ctx)
    if problems:
        for problem in problems:
            render.note(f"jobctl: error: {problem}")
        raise typer.Exit(EXIT_USAGE)
    render.say(f"{path}: ok")


@config_app.command("show")
def show(ctx: typer.Context, output: Output = None) -> None:
    """Print the effective config (defaults filled in)."""
    from jobctl.ops.init import effective_config

    document = effective_config(state(ctx).config())
    if wants_json(ctx, output):
        render.print_json(document)
        return
    import yaml

    render.say(yaml.safe_dump(document, sort_keys=False).rstrip())


def _warn_double_dispatch(ctx: typer.Context) -> None:
    """Imported schedules still active in their crontab (only if the DB already exists)."""
    from jobctl.ops.schedules import still_in_crontab
    from jobctl.store import db_path_from

    app_state = state(ctx)
    if not db_path_from(app_state.db_url).exists():
        return
    for warning in still_in_crontab(app_state.client().store):
        render.note(f"jobctl: warning: {warning}")
