"""The registry of nodes: each daemon registers its node (host, tags, version) and keeps its
heartbeat; an operator drains, resumes or forgets a node. A node claims nothing while it is
draining or forgotten (`claim_gate`, read inside every claim transaction)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from jobctl.domain.durations import from_epoch
from jobctl.store.database import Conn, Database, Row
from jobctl.store.repos.daemons import SILENT_INTERVALS


@dataclass(frozen=True)
class NodeInfo:
    """A node as registered by its daemon, and what the operator set on it."""

    name: str
    host: str
    tags: tuple[str, ...]
    version: str | None
    started_at: datetime
    heartbeat_at: datetime
    heartbeat_interval: float
    draining: bool = False
    drain_now: bool = False  # running jobs are put back at once (`node drain --now`)
    forgotten: bool = False
    alive: bool = False  # a daemon of this node is heartbeating (filled in by `list`)
    running: int = 0  # jobs its daemons run now (filled in by `list`)


def claim_gate(conn: Conn, node: str, ts: float) -> tuple[bool, bool]:
    """Inside a claim transaction, in one statement: whether `node` may claim (False when
    it is draining or forgotten), and whether any gang waits due at `ts` (repos/gangs.py:
    only then is the first waiting gang looked for)."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM nodes WHERE name = ?"
        " AND (draining = 1 OR forgotten_at IS NOT NULL)),"
        " EXISTS (SELECT 1 FROM gangs WHERE state = 'waiting' AND run_at <= ?)",
        (node, ts),
    ).fetchone()
    return not row[0], bool(row[1])


_LIVE_DAEMON = (
    "SELECT 1 FROM daemons d WHERE d.node = n.name AND d.stopped_at IS NULL"
    f" AND d.heartbeat_at >= ? - {SILENT_INTERVALS} * d.heartbeat_interval"
)
_RUNNING = (
    "SELECT count(*) FROM jobs j WHERE j.state = 'running'"
    " AND j.lease_owner IN (SELECT d.id FROM daemons d WHERE d.node = n.name)"
)


def _node(row: Row, alive: bool = False, running: int = 0) -> NodeInfo:
    return NodeInfo(
        name=row["name"],
        host=row["host"],
        tags=tuple(json.loads(row["tags"]) if row["tags"] else ()),
        version=row["version"],
        started_at=from_epoch(row["started_at"]),
        heartbeat_at=from_epoch(row["heartbeat_at"]),
        heartbeat_interval=row["heartbeat_interval"],
        draining=bool(row["draining"]),
        drain_now=bool(row["drain_now"]),
        forgotten=row["forgotten_at"] is not None,
        alive=alive,
        running=running,
    )


class NodesRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    def register(self, info: NodeInfo) -> None:
        """A daemon starts on this node: record its host, tags and version. A drain set by
        the operator stays (a restarted node does not claim until `resume`); a forgotten
        node is known again."""
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO nodes (name, host, tags, version, started_at, heartbeat_at,"
                " heartbeat_interval) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET host = excluded.host, tags = excluded.tags,"
                " version = excluded.version, started_at = excluded.started_at,"
                " heartbeat_at = excluded.heartbeat_at,"
                " heartbeat_interval = excluded.heartbeat_interval, forgotten_at = NULL",
                (
                    info.name,
                    info.host,
                    json.dumps(sorted(info.tags)),
                    info.version,
                    info.started_at.timestamp(),
                    info.heartbeat_at.timestamp(),
                    info.heartbeat_interval,
                ),
            )

    def heartbeat(self, name: str, now: datetime) -> None:
        """The node's daemon is alive at `now` (a forgotten node stays forgotten)."""
        with self.db.write() as conn:
            conn.execute(
                "UPDATE nodes SET heartbeat_at = ? WHERE name = ? AND forgotten_at IS NULL",
                (now.timestamp(), name),
            )

    def get(self, name: str) -> NodeInfo | None:
        """The node as registered (forgotten ones too), without liveness figures."""
        with self.db.read() as conn:
            row = conn.execute("SELECT * FROM nodes WHERE name = ?", (name,)).fetchone()
        return None if row is None else _node(row)

    def list(self, now: datetime) -> list[NodeInfo]:
        """Every node not forgotten, by name, with whether a daemon of it is alive at `now`
        (heartbeat within 3 of its intervals) and how many jobs it runs."""
        with self.db.read() as conn:
            rows = conn.execute(
                f"SELECT n.*, EXISTS ({_LIVE_DAEMON}) AS alive, ({_RUNNING}) AS running"
                " FROM nodes n WHERE n.forgotten_at IS NULL ORDER BY n.name",
                (now.timestamp(),),
            ).fetchall()
        return [_node(r, bool(r["alive"]), r["running"]) for r in rows]

    def set_draining(self, name: str, draining: bool, drain_now: bool, now: datetime) -> bool:
        """Drain (claim nothing; with `drain_now` also put running jobs back) or resume the
        node; False when no such node is known."""
        with self.db.write() as conn:
            conn.notify("nodes")
            done = conn.execute(
                "UPDATE nodes SET draining = ?, drain_now = ?, drained_at = ?"
                " WHERE name = ? AND forgotten_at IS NULL",
                (
                    int(draining),
                    int(draining and drain_now),
                    now.timestamp() if draining else None,
                    name,
                ),
            ).rowcount
            if not draining and done:
                conn.notify("jobs")  # its daemons may claim again
        return bool(done)

    def forget(self, name: str, now: datetime) -> int | None:
        """The node is gone for good: its daemons are marked stopped, their cluster chores
        released, and the leases of the jobs they ran expire at `now`, so any other daemon
        re-queues them. The number of
        leases expired; None when no such node is known."""
        ts = now.timestamp()
        with self.db.write() as conn:
            conn.notify("nodes")
            known = conn.execute(
                "UPDATE nodes SET forgotten_at = ? WHERE name = ? AND forgotten_at IS NULL",
                (ts, name),
            ).rowcount
            if not known:
                return None
            expired = conn.execute(
                "UPDATE jobs SET lease_expires_at = ? WHERE state = 'running'"
                " AND lease_owner IN (SELECT id FROM daemons WHERE node = ?)",
                (ts - 0.001, name),
            ).rowcount
            conn.execute(  # the gang members they held reserved are free for others at once
                "UPDATE jobs SET lease_owner = NULL, lease_expires_at = NULL"
                " WHERE state IN ('queued', 'retrying') AND gang_id IS NOT NULL"
                " AND lease_owner IN (SELECT id FROM daemons WHERE node = ?)",
                (name,),
            )
            conn.execute(
                "UPDATE daemons SET stopped_at = ? WHERE node = ? AND stopped_at IS NULL",
                (ts, name),
            )
            conn.execute(  # its cluster chores pass to another daemon at once
                "UPDATE cluster_chores SET expires_at = 0"
                " WHERE holder IN (SELECT id FROM daemons WHERE node = ?)",
                (name,),
            )
            if expired:
                conn.notify("jobs")
        return expired
