"""The registry of daemons: each heartbeats; silent for 3 intervals means dead."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from jobctl.domain.durations import from_epoch
from jobctl.store.database import Database

SILENT_INTERVALS = 3


@dataclass(frozen=True)
class DaemonInfo:
    id: str
    node: str
    host: str
    pid: int
    version: str | None
    queues: list[str] | None
    started_at: datetime
    heartbeat_at: datetime
    heartbeat_interval: float
    clock_offset: float = 0.0  # seconds the database's clock is ahead of this node's
    concurrency: int | None = None  # its slots (a gang larger than the live slots waits)


class DaemonsRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    def register(self, info: DaemonInfo) -> None:
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO daemons (id, node, host, pid, version, queues, started_at,"
                " heartbeat_at, heartbeat_interval, concurrency)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET node = excluded.node, host = excluded.host,"
                " pid = excluded.pid, version = excluded.version, queues = excluded.queues,"
                " started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at,"
                " heartbeat_interval = excluded.heartbeat_interval,"
                " concurrency = excluded.concurrency, stopped_at = NULL",
                (
                    info.id,
                    info.node,
                    info.host,
                    info.pid,
                    info.version,
                    json.dumps(info.queues) if info.queues is not None else None,
                    info.started_at.timestamp(),
                    info.heartbeat_at.timestamp(),
                    info.heartbeat_interval,
                    info.concurrency,
                ),
            )

    def heartbeat(self, daemon_id: str, now: datetime, clock_offset: float = 0.0) -> None:
        """Record that the daemon is alive at `now` (database time), with how far the
        database's clock is ahead of its node's."""
        with self.db.write() as conn:
            conn.execute(
                "UPDATE daemons SET heartbeat_at = ?, clock_offset = ? WHERE id = ?",
                (now.timestamp(), clock_offset, daemon_id),
            )

    def stopped(self, daemon_id: str, now: datetime) -> None:
        with self.db.write() as conn:
            conn.execute(
                "UPDATE daemons SET stopped_at = ? WHERE id = ?", (now.timestamp(), daemon_id)
            )

    def live(self, now: datetime) -> list[DaemonInfo]:
        """Daemons not stopped whose last heartbeat is within 3 of their intervals."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT * FROM daemons WHERE stopped_at IS NULL"
                f" AND heartbeat_at >= ? - {SILENT_INTERVALS} * heartbeat_interval"
                " ORDER BY node, started_at",
                (now.timestamp(),),
            ).fetchall()
        return [
            DaemonInfo(
                id=r["id"],
                node=r["node"],
                host=r["host"],
                pid=r["pid"],
                version=r["version"],
                queues=json.loads(r["queues"]) if r["queues"] else None,
                started_at=from_epoch(r["started_at"]),
                heartbeat_at=from_epoch(r["heartbeat_at"]),
                heartbeat_interval=r["heartbeat_interval"],
                clock_offset=r["clock_offset"],
                concurrency=r["concurrency"],
            )
            for r in rows
        ]

    def runners(self, node: str) -> list[str]:
        """Ids of the daemons ever registered on `node` (this one included)."""
        with self.db.read() as conn:
            rows = conn.execute("SELECT id FROM daemons WHERE node = ?", (node,)).fetchall()
        return [r[0] for r in rows]

    def forget_stale(self, now: datetime, older_than: float = 7 * 86400) -> None:
        """Drop rows of daemons gone for a week (the registry stays small)."""
        with self.db.write() as conn:
            conn.execute(
                "DELETE FROM daemons WHERE heartbeat_at < ?", (now.timestamp() - older_than,)
            )
