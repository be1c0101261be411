"""Kafka consumer-lag samples: one row per (cluster, group, topic, partition, time)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from jobctl.domain.durations import from_epoch
from jobctl.domain.lag import PartitionKey, Sample
from jobctl.store.database import Database

PartitionRow = tuple[str, int, int | None, int]  # topic, partition, committed, end


class KafkaRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record_samples(
        self,
        cluster: str,
        group: str,
        rows: Iterable[PartitionRow],
        now: datetime,
        prune_before: datetime,
    ) -> None:
        """Append one sample per partition at `now` and delete every sample (of any group)
        older than `prune_before`, in one transaction."""
        at = now.timestamp()
        with self.db.write() as conn:
            conn.executemany(
                "INSERT INTO kafka_samples"
                " (cluster, group_id, topic, partition, at, committed, end_offset)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(cluster, group, t, p, at, c, e) for t, p, c, e in rows],
            )
            conn.execute("DELETE FROM kafka_samples WHERE at < ?", (prune_before.timestamp(),))

    def windows(
        self, cluster: str, group: str, start: datetime, since: datetime, before: int
    ) -> dict[PartitionKey, list[Sample]]:
        """Each partition's samples of `group` taken at or after `start`, and the `before`
        newest ones before it (none older than `since`), oldest first."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT topic, partition, at, id, committed, end_offset FROM ("
                " SELECT *, ROW_NUMBER() OVER ("
                "  PARTITION BY topic, partition ORDER BY at DESC, id DESC) AS rn"
                " FROM kafka_samples WHERE cluster = ? AND group_id = ? AND at >= ? AND at < ?)"
                " AS w WHERE rn <= ?"
                " UNION ALL"
                " SELECT topic, partition, at, id, committed, end_offset FROM kafka_samples"
                " WHERE cluster = ? AND group_id = ? AND at >= ?"
                " ORDER BY topic, partition, at, id",
                (cluster, group, since.timestamp(), start.timestamp(), before,
                 cluster, group, start.timestamp()),
            ).fetchall()  # fmt: skip
        out: dict[PartitionKey, list[Sample]] = {}
        for row in rows:
            at = from_epoch(row["at"])
            assert at is not None
            sample = Sample(at, row["committed"], row["end_offset"])
            out.setdefault((row["topic"], row["partition"]), []).append(sample)
        return out

    def count(self) -> int:
        """Samples stored (all groups)."""
        with self.db.read() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM kafka_samples").fetchone()[0])
