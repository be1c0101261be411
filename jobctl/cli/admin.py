"""init, config check | show."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from jobctl.cli import render
from jobctl.cli.app import app
from jobctl.cli.context import state, wants_json
from jobctl.cli.options import Output

if TYPE_CHECKING:
    from jobctl.config.model import Config

config_app = typer.Typer(help="Validate and show the configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@app.command()
def init(ctx: typer.Context) -> None:
    """Create the database and a commented example config (an existing config is kept)."""
    from jobctl.cli.audit import audited
    from jobctl.config.locate import resolve_config_path
    from jobctl.ops.init import write_example_config
    from jobctl.paths import default_config_path
    from jobctl.store import open_store

    app_state = state(ctx)
    path, _ = resolve_config_path(app_state.config_path)
    target = path or default_config_path()
    with audited(ctx, "init", app_state.db_url, {"config": str(target)}) as audit:
        open_store(app_state.db_url).close()  # creates the DB, or refuses a foreign one first
        if target.exists():
            render.note(f"config {target} exists: kept as it is")
        else:
            write_example_config(target)
            audit.args["config_written"] = True
            render.note(f"wrote example config {target}")
        client = app_state.client()
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
    from jobctl.config.locate import resolve_config_path
    from jobctl.errors import EXIT_USAGE

    path = file
    if path is None:
        found, _ = resolve_config_path(state(ctx).config_path)
        if found is None:
            render.say("no config file: defaults apply")
            return
        path = str(found)
    config, problems = check_config(path, host_checks=True)
    _warn_lint(ctx, config)
    if problems:
        for problem in problems:
            render.note(f"jobctl: error: {problem}")
        raise typer.Exit(EXIT_USAGE)
    render.say(f"{path}: ok")


@config_app.command("show")
def show(ctx: typer.Context, output: Output = None) -> None:
    """Print the effective config (defaults filled in): YAML that `config check` accepts."""
    from jobctl.config.effective import config_data

    document = config_data(state(ctx).config())
    if wants_json(ctx, output):
        render.print_json(document)
        return
    import yaml

    render.say_block(yaml.safe_dump(document, sort_keys=False))


def _warn_lint(ctx: typer.Context, config: Config) -> None:
    """Lint of the config's schedules (SPEC "Lint"); when the DB already exists, also against
    its schedules and run history, and imported schedules still active in their crontab. An
    absent or unusable DB is neither created nor an error here."""
    from jobctl.clock import utcnow
    from jobctl.errors import JobctlError
    from jobctl.ops.crontab_import import still_in_crontab
    from jobctl.ops.schedules import lint_config

    now = utcnow()
    try:
        store = state(ctx).store_if_any()
        warnings = lint_config(store, config.schedules, now)
        shadow = config.shadow_mode.enabled
        warnings += still_in_crontab(store, shadow) if store is not None else []
    except JobctlError as exc:
        warnings = [*lint_config(None, config.schedules, now), f"database not checked: {exc}"]
    for warning in warnings:
        render.note(f"jobctl: warning: {warning}")
