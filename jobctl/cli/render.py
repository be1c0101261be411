"""Output: JSON documents or tables on stdout, diagnostics on stderr. Rich loads only when a
table is drawn; no colour unless stdout is a TTY and NO_COLOR is unset.

Every human line passes through `escape`, so control characters in user-supplied text (a
job's name, command, payload, error) are shown as `\\x1b`, `\\n`, ... and can neither drive
the operator's terminal nor forge a line. `value` renders any value for humans (no Python
reprs). JSON stays exact: its own escapes, plus `\\u` escapes for the characters JSON
leaves raw (DEL, C1 controls, line separators, bidi overrides)."""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import Enum
from typing import Any

from jobctl.domain.durations import iso_z

# C0, DEL, C1, Unicode line/paragraph separators and the bidi controls ("Trojan Source").
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(char: str) -> str:
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def escape(text: str, keep: str = "") -> str:
    """`text` with every control character shown as an escape (`\\x1b`, `\\n`); characters
    in `keep` (e.g. newline and tab of a multi-line block) pass through."""
    return _UNSAFE.sub(lambda m: m[0] if m[0] in keep else _escaped(m[0]), text)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_z(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def print_json(document: Any, one_line: bool = False) -> None:
    """One JSON document on stdout (`one_line`: a JSON Lines record)."""
    indent = None if one_line else 2
    text = json.dumps(document, indent=indent, default=_default, ensure_ascii=False)
    sys.stdout.write(_JSON_UNSAFE.sub(lambda m: f"\\u{ord(m[0]):04x}", text) + "\n")


def say(text: str) -> None:
    """A result line on stdout (one line: an embedded newline is shown as `\\n`)."""
    sys.stdout.write(escape(text) + "\n")


def say_block(text: str) -> None:
    """Multi-line text on stdout (an output tail, a YAML document): lines and tabs are
    kept, every other control character is escaped."""
    sys.stdout.write(escape(text.rstrip("\n"), keep="\n\t") + "\n")


def note(text: str) -> None:
    """A diagnostic/progress line on stderr."""
    sys.stderr.write(escape(text) + "\n")


def color_allowed() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def value(v: Any) -> str:
    """One value as an operator reads it: `-` for none, yes/no, local times, JSON for
    objects, lists comma-separated (a command line is `command_line`'s job)."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, datetime):
        return local_time(v)
    if isinstance(v, Enum):
        return str(v.value)
    if isinstance(v, float):
        return format(v, ".15g")
    if isinstance(v, bytes):
        return v.decode(errors="backslashreplace")
    if isinstance(v, dict):
        return json_text(v)
    if isinstance(v, list | tuple | set | frozenset):
        return ", ".join(value(item) for item in v) or "-"
    return str(v)


def json_text(document: Any) -> str:
    """A JSON value (a payload) on one line."""
    return json.dumps(document, default=_default, ensure_ascii=False)


def command_line(argv: Sequence[str] | None) -> str | None:
    """An argv as the shell line that would run it."""
    return shlex.join(argv) if argv else None


def cells(row: Iterable[Any]) -> list[str]:
    """A table row as escaped one-line strings."""
    return [escape(value(v)) for v in row]


def print_table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None
) -> None:
    """A table: rich when stdout is a TTY, plain aligned columns otherwise."""
    shown = [cells(row) for row in rows]
    if color_allowed():
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        table = Table(title=title, header_style="bold", box=None, pad_edge=False)
        for header in headers:
            table.add_column(header)
        for row in shown:
            table.add_row(*(Text(c) for c in row))  # Text: no markup read from user text
        Console().print(table)
        return
    if title:
        say(title)
    widths = [max([len(h)] + [len(r[i]) for r in shown]) for i, h in enumerate(headers)]
    say("  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in shown:
        say("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def fields(pairs: Iterable[tuple[str, Any]], skip_none: bool = False) -> None:
    """`name  value` lines, names aligned, values rendered by `value`."""
    kept = [(n, v) for n, v in pairs if not (skip_none and v is None)]
    width = max((len(n) for n, _ in kept), default=0)
    for name, v in kept:
        say(f"{name.ljust(width)}  {value(v)}")


def local_time(moment: datetime | str | None) -> str:
    """A timestamp for humans: local time, seconds precision (ISO 8601 text accepted)."""
    if moment is None:
        return "-"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")
