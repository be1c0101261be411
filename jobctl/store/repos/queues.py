"""Queue state kept in the DB (pause flags); queue settings come from config."""

from __future__ import annotations

from datetime import datetime

from jobctl.store.database import Database


class QueuesRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    def set_paused(self, name: str, paused: bool, now: datetime) -> None:
        with self.db.write() as conn:
            if not paused:
                conn.notify("jobs")
            conn.execute(
                "INSERT INTO queues (name, paused, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET paused = excluded.paused,"
                " updated_at = excluded.updated_at",
                (name, int(paused), now.timestamp()),
            )

    def paused(self) -> set[str]:
        with self.db.read() as conn:
            return {r[0] for r in conn.execute("SELECT name FROM queues WHERE paused = 1")}

    def known(self) -> set[str]:
        """Every queue name that has jobs or state in the DB."""
        with self.db.read() as conn:
            names = {r[0] for r in conn.execute("SELECT name FROM queues")}
            names |= {
                r[0]
                for r in conn.execute(
                    "WITH RECURSIVE q(name) AS (SELECT min(queue) FROM jobs UNION ALL"
                    " SELECT (SELECT min(queue) FROM jobs WHERE queue > q.name) FROM q"
                    " WHERE q.name IS NOT NULL) SELECT name FROM q WHERE name IS NOT NULL"
                )
            }
        return names
