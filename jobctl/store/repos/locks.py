"""Named locks: leases with a TTL and a fencing token per name that never goes back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jobctl.domain.durations import from_epoch
from jobctl.store.database import Database


@dataclass(frozen=True)
class LockInfo:
    name: str
    holder: str | None  # user@host:pid
    token: int  # the fencing token of the latest acquisition
    acquired_at: datetime | None
    expires_at: datetime | None
    holder_id: str | None = None
    ttl: float | None = None


def _info(row: Any) -> LockInfo:
    return LockInfo(
        name=row["name"],
        holder=row["holder"],
        token=row["token"],
        acquired_at=from_epoch(row["acquired_at"]),
        expires_at=from_epoch(row["expires_at"]),
        holder_id=row["holder_id"],
        ttl=row["ttl"],
    )


class LocksRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    def acquire(
        self, name: str, holder: str, holder_id: str, ttl: float, now: datetime
    ) -> tuple[bool, LockInfo]:
        """In one write transaction: take `name` if it is free or its lease expired (the
        token grows by one), else leave it. Returns (acquired, the lock as it now is)."""
        at = now.timestamp()
        with self.db.write() as conn:
            row = conn.execute(
                "INSERT INTO locks (name, token, holder, holder_id, acquired_at, expires_at, ttl)"
                " VALUES (?, 1, ?, ?, ?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET token = locks.token + 1,"
                " holder = excluded.holder, holder_id = excluded.holder_id,"
                " acquired_at = excluded.acquired_at,"
                " expires_at = excluded.expires_at, ttl = excluded.ttl"
                " WHERE locks.holder_id IS NULL OR locks.expires_at <= ?"
                " RETURNING *",
                (name, holder, holder_id, at, at + ttl, ttl, at),
            ).fetchone()
            if row is not None:
                return True, _info(row)
            current = conn.execute("SELECT * FROM locks WHERE name = ?", (name,)).fetchone()
        return False, _info(current)

    def renew(self, name: str, holder_id: str, ttl: float, now: datetime) -> bool:
        """Extend the lease to now + ttl; False when `holder_id` no longer holds it."""
        with self.db.write() as conn:
            return bool(
                conn.execute(
                    "UPDATE locks SET expires_at = ? WHERE name = ? AND holder_id = ?",
                    (now.timestamp() + ttl, name, holder_id),
                ).rowcount
            )

    def release(self, name: str, holder_id: str | None = None) -> bool:
        """Free the lock (only if `holder_id` holds it, when given); the token stays.
        False when there was nothing to release."""
        sql = "UPDATE locks SET holder = NULL, holder_id = NULL, expires_at = NULL WHERE name = ?"
        args: list[object] = [name]
        if holder_id is not None:
            sql += " AND holder_id = ?"
            args.append(holder_id)
        else:
            sql += " AND holder_id IS NOT NULL"
        with self.db.write() as conn:
            return bool(conn.execute(sql, args).rowcount)

    def get(self, name: str) -> LockInfo | None:
        with self.db.read() as conn:
            row = conn.execute("SELECT * FROM locks WHERE name = ?", (name,)).fetchone()
        return None if row is None else _info(row)

    def held(self, now: datetime) -> list[LockInfo]:
        """Locks held by a live lease, by name."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT * FROM locks WHERE holder_id IS NOT NULL AND expires_at > ? ORDER BY name",
                (now.timestamp(),),
            ).fetchall()
        return [_info(r) for r in rows]
