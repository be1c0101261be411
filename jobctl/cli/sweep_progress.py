"""Progress of `sweep run` on stderr: a rich bar on a TTY, else a log line every few
seconds (and one at the end)."""

from __future__ import annotations

from typing import Any

from jobctl.cli.progress import StderrProgress
from jobctl.domain.sweep import Progress


class SweepProgress(StderrProgress):
    """A context manager whose `update` is the engine's progress callback."""

    def __init__(self, label: str, marked: int, done: int, quiet: bool = False) -> None:
        super().__init__(label, marked, done, quiet)

    def columns(self) -> list[Any]:
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn

        return [
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("deleted {task.fields[deleted]} skipped {task.fields[skipped]}"),
            TimeRemainingColumn(),
        ]

    def fields(self) -> dict[str, Any]:
        return {"deleted": 0, "skipped": 0}

    def update(self, p: Progress) -> None:
        self._advance(p, p.done, deleted=p.deleted, skipped=p.skipped)

    def line(self, p: Progress, now: float) -> str:
        pct = 100.0 * p.done / p.marked if p.marked else 100.0
        return (
            f"{self.label}: {p.done}/{p.marked} rows ({pct:.0f}%), deleted {p.deleted},"
            f" skipped {p.skipped}, {self.rate(p.done, now):.0f} rows/s, batch {p.batch}"
        )
