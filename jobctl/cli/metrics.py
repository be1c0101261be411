"""`jobctl metrics --textfile PATH`: the DB-derived gauges for node_exporter's textfile
collector (when no daemon serves /metrics)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from jobctl.cli import render
from jobctl.cli.app import app
from jobctl.cli.context import state


@app.command("metrics")
def metrics_command(
    ctx: typer.Context,
    textfile: Annotated[
        Path | None,
        typer.Option(
            "--textfile",
            help="Write to this .prom file atomically (temporary file + rename).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Print the queue, DLQ, daemon and schedule gauges in Prometheus text format."""
    from jobctl.clock import utcnow
    from jobctl.errors import InvalidInput
    from jobctl.runtime.http.metrics import render_text, write_textfile

    app_state = state(ctx)
    store, config = app_state.client().store, app_state.config()
    if textfile is None:
        render.say_block(render_text(store, config, utcnow()))
        return
    if not textfile.parent.is_dir():
        raise InvalidInput(f"invalid --textfile {str(textfile)!r}: no directory {textfile.parent}")
    try:
        write_textfile(store, config, utcnow(), textfile)
    except OSError as exc:
        raise InvalidInput(f"cannot write --textfile {str(textfile)!r}: {exc.strerror}") from None
    render.note(f"metrics written to {textfile}")
