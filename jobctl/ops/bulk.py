"""`enqueue --from FILE.jsonl`: one job object per line, all validated before any is written."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

from jobctl.config.resolve import EnqueueOptions, options_from_dict
from jobctl.domain.job import json_problem
from jobctl.errors import InvalidInput


def read_bulk(
    source: str, now: datetime, enqueued_from: str | None = None, request_id: str | None = None
) -> list[EnqueueOptions]:
    """Parse every line (blank lines skipped); the first bad line is InvalidInput naming it.
    A job runs in its line's `cwd`, else in `enqueued_from` (the enqueue's directory); each
    carries `request_id` (the enqueue's)."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise InvalidInput(f"cannot read --from file {source!r}: {reason}") from None
    name = "stdin" if source == "-" else source
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{name}:{number}"
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError) as exc:
            raise InvalidInput(f"{where}: invalid JSON: {json_problem(exc)}") from None
        out.append(options_from_dict(obj, now, where, enqueued_from, request_id))
    if not out:
        raise InvalidInput(f"--from {name}: no jobs in the file")
    return out
