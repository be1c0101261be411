"""Figures for Prometheus that `stats` and `health` do not give: DLQ entries per queue and
jobs enqueued since a cursor. Cheap indexed queries (scraped every few seconds)."""

from __future__ import annotations

from jobctl.store.database import Database


class MetricsRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    def dlq_entries(self) -> dict[str, int]:
        """Dead letters not yet replayed, per queue."""
        with self.db.read() as conn:
            return {
                queue: count
                for queue, count in conn.execute(
                    "SELECT queue, count(*) FROM dlq WHERE replayed_job_id IS NULL GROUP BY queue"
                )
            }

    def jobs_after(self, cursor: int | None) -> tuple[dict[str, int], int]:
        """Jobs created with an id above `cursor`, per queue, and the new cursor (the highest
        id). A None cursor only returns the current highest id (counting starts there)."""
        with self.db.read() as conn:
            if cursor is None:
                return {}, conn.execute("SELECT coalesce(max(id), 0) FROM jobs").fetchone()[0]
            counts, top = {}, cursor
            for queue, count, high in conn.execute(
                "SELECT queue, count(*), max(id) FROM jobs WHERE id > ? GROUP BY queue", (cursor,)
            ):
                counts[queue] = count
                top = max(top, high)
        return counts, top
