"""The daemon's event log: logfmt lines, and lines held for one tick."""

from __future__ import annotations

import io
import threading
from datetime import UTC, datetime

from jobctl.runtime.eventlog import EventLog

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def test_a_line_is_logfmt_with_quoted_values() -> None:
    stream = io.StringIO()
    EventLog("logfmt", stream).emit(NOW, "job.started", job_id=7, error="a b", skipped=None)
    assert stream.getvalue() == (
        'ts=2026-01-02T03:04:05Z level=info event=job.started job_id=7 error="a b"\n'
    )


def test_held_lines_go_out_together_at_the_end() -> None:
    stream = CountingStream()
    log = EventLog("logfmt", stream)
    with log.held():
        log.emit(NOW, "job.started", job_id=1)
        log.emit(NOW, "job.finished", job_id=1)
        assert stream.getvalue() == ""
    assert stream.writes == 1
    assert [line.split()[2] for line in stream.getvalue().splitlines()] == [
        "event=job.started",
        "event=job.finished",
    ]


def test_other_threads_are_not_held() -> None:
    stream = io.StringIO()
    log = EventLog("logfmt", stream)
    with log.held():
        other = threading.Thread(target=lambda: log.emit(NOW, "retention.swept"))
        other.start()
        other.join()
        assert "event=retention.swept" in stream.getvalue()
        log.emit(NOW, "job.started")
        assert "job.started" not in stream.getvalue()
    assert "event=job.started" in stream.getvalue()


def test_held_lines_are_written_when_the_tick_fails() -> None:
    stream = io.StringIO()
    log = EventLog("logfmt", stream)
    try:
        with log.held():
            log.emit(NOW, "job.started")
            raise RuntimeError("store busy")
    except RuntimeError:
        pass
    assert "event=job.started" in stream.getvalue()


def test_remembered_stamps_and_heads_follow_each_line() -> None:
    """Lines share the formatted time of their `now` (a tick's), never a previous line's."""
    stream = io.StringIO()
    log = EventLog("logfmt", stream)
    later = NOW.replace(microsecond=250_000)
    log.emit(NOW, "job.started", job_id=1)
    log.emit(later, "job.started", job_id=2)
    log.emit(later, "odd event", level="warn ing", job_id=3)
    log.emit(NOW, "job.started", job_id=4)
    assert stream.getvalue().splitlines() == [
        "ts=2026-01-02T03:04:05Z level=info event=job.started job_id=1",
        "ts=2026-01-02T03:04:05.250Z level=info event=job.started job_id=2",
        'ts=2026-01-02T03:04:05.250Z level="warn ing" event="odd event" job_id=3',
        "ts=2026-01-02T03:04:05Z level=info event=job.started job_id=4",
    ]
    stream = io.StringIO()
    log = EventLog("json", stream)
    log.emit(NOW, "job.started", job_id=1)
    log.emit(later, "job.started", job_id=2)
    assert stream.getvalue().splitlines() == [
        '{"ts": "2026-01-02T03:04:05Z", "level": "info", "event": "job.started", "job_id": 1}',
        '{"ts": "2026-01-02T03:04:05.250Z", "level": "info", "event": "job.started", "job_id": 2}',
    ]


def test_a_daemons_lines_carry_its_node_once_in_both_formats() -> None:
    stream = io.StringIO()
    log = EventLog("logfmt", stream, node="n2")
    log.emit(NOW, "job.started", job_id=7)
    log.emit(NOW, "daemon.started", node="n2", pid=9)
    assert stream.getvalue().splitlines() == [
        "ts=2026-01-02T03:04:05Z level=info node=n2 event=job.started job_id=7",
        "ts=2026-01-02T03:04:05Z level=info node=n2 event=daemon.started pid=9",
    ]
    stream = io.StringIO()
    EventLog("json", stream, node="n2").emit(NOW, "job.started", job_id=7)
    assert stream.getvalue() == (
        '{"ts": "2026-01-02T03:04:05Z", "level": "info", "node": "n2", "event": "job.started",'
        ' "job_id": 7}\n'
    )


def test_every_kind_of_field_value_is_written_as_logfmt_value_writes_it() -> None:
    """Numbers and plain strings are written inline, the rest as before: the same text."""
    from enum import Enum

    from jobctl.runtime.eventlog import _logfmt_value

    class Kind(Enum):
        EXIT = "exit"

    class Count(int):
        def __str__(self) -> str:
            return "many"

    values: list[object] = [
        0, -3, 12345678901234567890, 0.000123, 1e-07, 2.5e20, float("inf"), True, False,
        "default", "", "two words", 'a"quote', "a=b", "back\\slash", "tab\there", "é",
        Kind.EXIT, Count(4), NOW, [1, "x"], {"k": 1},
    ]  # fmt: skip
    stream = io.StringIO()
    log = EventLog("logfmt", stream)
    for n, value in enumerate(values):
        log.emit(NOW, "e", n=n, value=value, skipped=None)
    expected = [
        f"ts=2026-01-02T03:04:05Z level=info event=e n={n} value={_logfmt_value(v)}"
        for n, v in enumerate(values)
    ]
    assert stream.getvalue().splitlines() == expected
