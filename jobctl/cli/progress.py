"""Progress of long commands on stderr: a rich bar when stderr is a TTY, else a log line
every few seconds and one at the end (nothing with --quiet). Subclasses say what a bar
shows (`columns`) and what a log line says (`line`)."""

from __future__ import annotations

import sys
from abc import ABC, abstractmethod
from types import TracebackType
from typing import Any, Self

from jobctl.cli import render
from jobctl.clock import SystemClock

LOG_EVERY_S = 5.0


class StderrProgress(ABC):
    def __init__(self, label: str, total: int, done: int = 0, quiet: bool = False) -> None:
        self.label, self.total, self.quiet = label, total, quiet
        self.clock = SystemClock()
        self.started = self.clock.monotonic()
        self.first_done = done
        self.last_log = self.started
        self.logged: Any = None  # the last state given to `_advance` (for the final line)
        self._bar: Any = None
        self._task: Any = None
        self.tty = sys.stderr.isatty() and not quiet

    def columns(self) -> list[Any]:
        """The bar's columns after the label (rich.progress columns)."""
        from rich.progress import BarColumn, MofNCompleteColumn, TimeRemainingColumn

        return [BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]

    def fields(self) -> dict[str, Any]:
        """The bar's own fields' first values (shown by `columns`)."""
        return {}

    @abstractmethod
    def line(self, state: Any, now: float) -> str:
        """The log line for `state` at monotonic time `now`."""

    def log_at_end(self, failed: bool) -> bool:
        """Whether to log where it got to when it ends (without a bar)."""
        return True

    def rate(self, done: int, now: float) -> float:
        """Rows (or items) per second since the start."""
        return (done - self.first_done) / max(now - self.started, 1e-9)

    def __enter__(self) -> Self:
        if self.tty:
            from rich.console import Console
            from rich.markup import escape
            from rich.progress import Progress, TextColumn

            self._bar = Progress(
                TextColumn(escape(render.escape(self.label))),  # a name, not markup
                *self.columns(),
                console=Console(stderr=True),
                transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task(
                "work", total=self.total, completed=self.first_done, **self.fields()
            )
        return self

    def _advance(self, state: Any, done: int, total: int | None = None, **fields: Any) -> None:
        """Show `done` (of `total`, when it changed) on the bar, or log `state` now and then."""
        self.logged = state
        if total is not None:
            self.total = total
        if self._bar is not None:
            self._bar.update(self._task, completed=done, total=self.total, **fields)
            return
        now = self.clock.monotonic()
        if not self.quiet and now - self.last_log >= LOG_EVERY_S:
            self.last_log = now
            render.note(self.line(state, now))

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
        elif self.logged is not None and not self.quiet and self.log_at_end(kind is not None):
            render.note(self.line(self.logged, self.clock.monotonic()))
