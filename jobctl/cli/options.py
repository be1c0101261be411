"""Shared option types, so every command spells its flags the same way."""

from __future__ import annotations

from typing import Annotated

import typer

Output = Annotated[
    str | None,
    typer.Option("--output", "-o", help="Output format: table or json.", show_default=False),
]
Queue = Annotated[str | None, typer.Option("--queue", "-Q", help="Queue name.")]
Since = Annotated[
    str | None, typer.Option("--since", help="Only entries newer than this duration (e.g. 1h).")
]
Confirm = Annotated[
    str | None,
    typer.Option("--confirm", help="The exact target name (or job count) of a dangerous action."),
]
JobIds = Annotated[list[str], typer.Argument(help="Job ids.", show_default=False)]
