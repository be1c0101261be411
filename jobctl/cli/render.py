"""Output: JSON documents or tables on stdout, diagnostics on stderr. Rich loads only when a
table is drawn; no colour unless stdout is a TTY and NO_COLOR is unset."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from jobctl.domain.durations import iso_z


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_z(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, default=_default, ensure_ascii=False) + "\n")


def say(text: str) -> None:
    """A result line on stdout."""
    sys.stdout.write(text + "\n")


def note(text: str) -> None:
    """A diagnostic/progress line on stderr."""
    sys.stderr.write(text + "\n")


def color_allowed() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def print_table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None
) -> None:
    """A table: rich when stdout is a TTY, plain aligned columns otherwise."""
    cells = [["-" if v is None else str(v) for v in row] for row in rows]
    if color_allowed():
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title, header_style="bold", box=None, pad_edge=False)
        for header in headers:
            table.add_column(header)
        for row in cells:
            table.add_row(*row)
        Console().print(table)
        return
    if title:
        say(title)
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    say("  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in cells:
        say("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def local_time(moment: datetime | None) -> str:
    """A timestamp for humans: local time, seconds precision."""
    if moment is None:
        return "-"
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")
