"""The audit log: append-only entries of state-changing actions."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from jobctl.domain.audit import AuditEntry
from jobctl.domain.durations import from_epoch
from jobctl.store.database import Conn, Database
from jobctl.store.records import dumps, loads


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        at=from_epoch(row["at"]),
        actor=row["actor"],
        uid=row["uid"],
        host=row["host"],
        request_id=row["request_id"],
        action=row["action"],
        target=row["target"],
        args=loads(row["args"]) or {},
        outcome=row["outcome"],
    )


class AuditRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, entry: AuditEntry) -> int:
        """Append one entry (its own short transaction); returns its id."""
        with self.db.write() as conn:
            return self.record_in(conn, entry)

    @staticmethod
    def record_in(conn: Conn, entry: AuditEntry) -> int:
        """Append inside the caller's write transaction (the action and its audit commit
        together)."""
        return conn.execute(
            "INSERT INTO audit (at, actor, uid, host, request_id, action, target, args, outcome)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                entry.at.timestamp(),
                entry.actor,
                entry.uid,
                entry.host,
                entry.request_id,
                entry.action,
                entry.target,
                dumps(entry.args),
                entry.outcome,
            ),
        ).fetchone()[0]

    def list(
        self,
        since: datetime | None = None,
        actions: Iterable[str] = (),
        limit: int = 1000,
    ) -> list[AuditEntry]:
        """Oldest first within the newest `limit`. An action ending in `.*` (or a bare
        prefix like `sweep`) matches every action under it."""
        where: list[str] = []
        args: list[Any] = []
        if since is not None:
            where.append("at >= ?")
            args.append(since.timestamp())
        wanted = list(actions)
        if wanted:
            alternatives = []
            for action in wanted:
                prefix = action.removesuffix(".*")
                alternatives.append("(action = ? OR action LIKE ? ESCAPE '\\')")
                escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                args += [prefix, escaped + ".%"]
            where.append("(" + " OR ".join(alternatives) + ")")
        sql = "SELECT * FROM audit" + (" WHERE " + " AND ".join(where) if where else "")
        with self.db.read() as conn:
            rows = conn.execute(sql + " ORDER BY id DESC LIMIT ?", [*args, limit]).fetchall()
        return [_entry(r) for r in reversed(rows)]
