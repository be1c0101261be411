"""Progress of `db copy` on stderr: a rich bar on a TTY (the table being copied, rows done of
all rows), else a log line every few seconds (and one at the end)."""

from __future__ import annotations

from typing import Any

from jobctl.cli.progress import StderrProgress
from jobctl.store.copy import Step


class CopyProgress(StderrProgress):
    """A context manager whose `update` is the copy's progress callback."""

    def __init__(self, quiet: bool = False) -> None:
        super().__init__("copying", 0, 0, quiet)

    def columns(self) -> list[Any]:
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn

        return [
            TextColumn("{task.fields[table]:<14}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("rows"),
            TimeRemainingColumn(),
        ]

    def fields(self) -> dict[str, Any]:
        return {"table": ""}

    def log_at_end(self, failed: bool) -> bool:
        return failed  # done: the command's summary says it all

    def update(self, step: Step) -> None:
        self._advance(step, step.done, step.total, table=step.table)

    def line(self, step: Step, now: float) -> str:
        pct = 100.0 * step.done / step.total if step.total else 100.0
        return (
            f"copying {step.table}: {step.done}/{step.total} rows ({pct:.0f}%),"
            f" {self.rate(step.done, now):.0f} rows/s"
        )
