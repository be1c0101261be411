"""Dead-letter entries: written by dispatch.finish, read here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jobctl.domain.durations import from_epoch
from jobctl.errors import NotFound
from jobctl.store.records import loads
from jobctl.store.sqlite.connection import Database


@dataclass(frozen=True)
class DeadLetter:
    id: int
    job_id: int
    queue: str
    failure_class: str | None
    error: str | None
    payload: Any
    output_tail: str | None
    created_at: datetime
    replayed_job_id: int | None


def _entry(row: Any) -> DeadLetter:
    return DeadLetter(
        id=row["id"],
        job_id=row["job_id"],
        queue=row["queue"],
        failure_class=row["failure_class"],
        error=row["error"],
        payload=loads(row["payload"]),
        output_tail=row["output_tail"],
        created_at=from_epoch(row["created_at"]),  # type: ignore[arg-type]
        replayed_job_id=row["replayed_job_id"],
    )


class DlqRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    def list(
        self,
        queue: str | None = None,
        since: datetime | None = None,
        failure_class: str | None = None,
        limit: int = 1000,
    ) -> list[DeadLetter]:
        """Newest first, filtered."""
        where, args = [], []
        for column, value in (("queue", queue), ("failure_class", failure_class)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if since is not None:
            where.append("created_at >= ?")
            args.append(since.timestamp())
        sql = "SELECT * FROM dlq" + (" WHERE " + " AND ".join(where) if where else "")
        with self.db.read() as conn:
            rows = conn.execute(sql + " ORDER BY id DESC LIMIT ?", [*args, limit]).fetchall()
        return [_entry(r) for r in rows]

    def get(self, entry_id: int) -> DeadLetter:
        with self.db.read() as conn:
            row = conn.execute("SELECT * FROM dlq WHERE id = ?", (entry_id,)).fetchone()
        if row is None:
            raise NotFound(f"no DLQ entry with id {entry_id}")
        return _entry(row)
