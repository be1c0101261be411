"""Turning CLI strings into typed values; every failure names the bad value (exit 2)."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from jobctl.errors import InvalidInput


def job_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise InvalidInput(f"invalid job id {text!r}: ids are whole numbers") from None
    if value < 1:
        raise InvalidInput(f"invalid job id {text!r}")
    return value


def job_ids(texts: list[str] | None) -> list[int]:
    return [job_id(t) for t in texts or []]


def payload(text: str | None) -> Any:
    """`--payload JSON` or `--payload @file` (`@-` reads stdin)."""
    if text is None:
        return None
    source = "--payload"
    if text.startswith("@"):
        name = text[1:]
        source = f"--payload file {name!r}"
        try:
            text = sys.stdin.read() if name == "-" else Path(name).read_text()
        except OSError as exc:
            raise InvalidInput(f"cannot read {source}: {exc.strerror}") from None
    from jobctl.domain.job import check_payload, json_problem

    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        shown = text if len(text) < 60 else text[:57] + "..."
        raise InvalidInput(f"invalid JSON in {source} {shown!r}: {json_problem(exc)}") from None
    return check_payload(value, source)


def env_pairs(pairs: list[str] | None) -> dict[str, str]:
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidInput(f"invalid --env {pair!r}: use KEY=VALUE")
        out[key] = value
    return out


def since(text: str | None, now: datetime) -> datetime | None:
    from jobctl.domain.durations import parse_duration

    return None if text is None else now - parse_duration(text, "--since")


def seconds(text: str | None, option: str) -> float | None:
    from jobctl.domain.durations import parse_seconds

    return None if text is None else parse_seconds(text, option)
