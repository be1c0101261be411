"""One line per event on stderr: logfmt (default) or JSON."""

from __future__ import annotations

import contextlib
import json
import re
import sys
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any, TextIO

from jobctl.domain.durations import iso_z

_QUOTE = re.compile(r'[\s="\\]')


def _logfmt_value(value: Any) -> str:
    kind = type(value)
    if kind is str:  # the common case first (the daemon writes two lines per job)
        return value if value and not _QUOTE.search(value) else json.dumps(value)
    if kind is int or kind is float:
        return str(value)
    if isinstance(value, datetime):
        return iso_z(value) or ""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if not text or _QUOTE.search(text):
        return json.dumps(text)
    return text


class EventLog:
    """Structured event lines: `ts=… level=info event=job.started job_id=7 …`; with `node`
    (a daemon's), every line says it: `ts=… level=info node=n1 event=…`, so the logs of a
    cluster's hosts can be read together."""

    def __init__(
        self, fmt: str = "logfmt", stream: TextIO | None = None, node: str | None = None
    ) -> None:
        self.fmt = fmt
        self.stream = stream or sys.stderr
        self.node = node
        self._holder: int | None = None  # the thread whose lines are held (see held())
        self._held: list[str] = []
        self._last: tuple[datetime, str | None] | None = None
        self._heads: dict[tuple[str | None, str, str, str | None], str] = {}

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Lines this thread emits inside are written together at the end, in one write
        (the daemon holds them for one tick); other threads' lines are written at once."""
        self._holder = threading.get_ident()
        try:
            yield
        finally:
            self._holder = None
            lines, self._held = self._held, []
            if lines:
                self._write("".join(lines))

    def _stamp(self, now: datetime) -> str | None:
        """iso_z(now), remembered for the last `now` (a tick's lines share one)."""
        last = self._last  # one (moment, text) pair: other threads emit too
        if last is None or last[0] != now:
            last = self._last = (now, iso_z(now))
        return last[1]

    def _head(self, stamp: str | None, level: str, event: str) -> str:
        """`ts=… level=… [node=…] event=…`, remembered per (stamp, level, event, node)."""
        key = (stamp, level, event, self.node)
        head = self._heads.get(key)
        if head is None:
            if len(self._heads) >= 64:
                self._heads.clear()
            node = "" if self.node is None else f" node={_logfmt_value(self.node)}"
            head = self._heads[key] = (
                f"ts={_logfmt_value(stamp)} level={_logfmt_value(level)}{node}"
                f" event={_logfmt_value(event)}"
            )
        return head

    def emit(self, now: datetime, event: str, level: str = "info", **fields: Any) -> None:
        node = self.node
        if node is not None and fields.get("node") == node:
            del fields["node"]  # said once, at the head of the line
        if self.fmt == "json":
            record = {"ts": self._stamp(now), "level": level}
            if node is not None:
                record["node"] = node
            record["event"] = event
            record.update(
                {
                    k: iso_z(v) if isinstance(v, datetime) else v
                    for k, v in fields.items()
                    if v is not None
                }
            )
            line = json.dumps(record, default=str)
        else:
            parts = [self._head(self._stamp(now), level, event)]
            for k, v in fields.items():  # numbers and plain strings inline: most fields
                if v is None:
                    continue
                kind = type(v)
                if kind is int or kind is float or (kind is str and v and not _QUOTE.search(v)):
                    parts.append(f"{k}={v}")
                else:
                    parts.append(f"{k}={_logfmt_value(v)}")
            line = " ".join(parts)
        if self._holder is not None and self._holder == threading.get_ident():
            self._held.append(line + "\n")
        else:
            self._write(line + "\n")

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass  # a closed stderr must never stop the daemon
