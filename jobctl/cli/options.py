"""Shared option types, so every command spells its flags the same way."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

import typer

from jobctl.cli.compat import Choice


def choice(values: Iterable[str]) -> Any:
    """A closed set of values (case-sensitive): click refuses any other with exit 2 naming
    it, before the command runs, and the generated completions offer exactly these."""
    return Choice([str(v) for v in values], case_sensitive=True)


OUTPUT_FORMATS = ("table", "json")

Output = Annotated[
    str | None,
    typer.Option(
        "--output",
        "-o",
        click_type=choice(OUTPUT_FORMATS),
        help="Output format: table or json.",
        show_default=False,
    ),
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
