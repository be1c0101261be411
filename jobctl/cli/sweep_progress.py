"""Progress of `sweep run` on stderr: a rich bar on a TTY, else a log line every few
seconds (and one at the end)."""

from __future__ import annotations

import sys
from types import TracebackType

from jobctl.cli import render
from jobctl.clock import SystemClock
from jobctl.domain.sweep import Progress

LOG_EVERY_S = 5.0


class SweepProgress:
    """A context manager whose `update` is the engine's progress callback."""

    def __init__(self, label: str, marked: int, done: int, quiet: bool = False) -> None:
        self.label, self.marked, self.quiet = label, marked, quiet
        self.clock = SystemClock()
        self.started = self.clock.monotonic()
        self.first_done = done
        self.last_log = self.started
        self.last: Progress | None = None
        self._bar = None
        self._task = None
        self.tty = sys.stderr.isatty() and not quiet

    def __enter__(self) -> SweepProgress:
        if self.tty:
            from rich.console import Console
            from rich.markup import escape
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn(escape(render.escape(self.label))),  # a name, not markup
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("deleted {task.fields[deleted]} skipped {task.fields[skipped]}"),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task(
                "sweep", total=self.marked, completed=self.first_done, deleted=0, skipped=0
            )
        return self

    def update(self, p: Progress) -> None:
        self.last = p
        if self._bar is not None:
            self._bar.update(self._task, completed=p.done, deleted=p.deleted, skipped=p.skipped)
            return
        now = self.clock.monotonic()
        if not self.quiet and now - self.last_log >= LOG_EVERY_S:
            self.last_log = now
            self._log(p, now)

    def _log(self, p: Progress, now: float) -> None:
        pct = 100.0 * p.done / p.marked if p.marked else 100.0
        rate = (p.done - self.first_done) / max(now - self.started, 1e-9)
        render.note(
            f"{self.label}: {p.done}/{p.marked} rows ({pct:.0f}%), deleted {p.deleted},"
            f" skipped {p.skipped}, {rate:.0f} rows/s, batch {p.batch}"
        )

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
        elif self.last is not None and not self.quiet:
            self._log(self.last, self.clock.monotonic())
