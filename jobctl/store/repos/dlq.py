"""Dead-letter entries: written by dispatch.finish; read, replayed and purged here."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jobctl.domain.durations import from_epoch
from jobctl.domain.job import Job, JobSpec
from jobctl.errors import NotFound
from jobctl.store.database import Conn, Database
from jobctl.store.records import job_from_row, loads


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


@dataclass(frozen=True)
class Selection:
    """Which entries: these ids (each must exist), or every entry matching the filters."""

    ids: tuple[int, ...] = ()
    queue: str | None = None
    failure_class: str | None = None
    since: datetime | None = None  # created at or after
    older_than: datetime | None = None  # created before
    replayed: bool | None = None  # None: either


@dataclass(frozen=True)
class Replayed:
    """One entry of a replay: `job_id` is the new job (None when skipped or a dry run)."""

    entry: DeadLetter
    job: Job | None  # the dead job (None when retention removed it)
    job_id: int | None
    skipped: str | None  # why it was not replayed


# (entry, its dead job, the id of a live job holding the job's key) → why to skip, or None
Decide = Callable[[DeadLetter, Job | None, int | None], str | None]


def _entry(row: Any) -> DeadLetter:
    return DeadLetter(
        id=row["id"],
        job_id=row["job_id"],
        queue=row["queue"],
        failure_class=row["failure_class"],
        error=row["error"],
        payload=loads(row["payload"]),
        output_tail=row["output_tail"],
        created_at=from_epoch(row["created_at"]),
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
        older_than: datetime | None = None,
    ) -> list[DeadLetter]:
        """Newest first, filtered."""
        where, args = _where(Selection((), queue, failure_class, since, older_than))
        with self.db.read() as conn:
            rows = conn.execute(
                f"SELECT * FROM dlq{where} ORDER BY id DESC LIMIT ?", [*args, limit]
            ).fetchall()
        return [_entry(r) for r in rows]

    def latest_per_job(self, limit: int) -> builtins.list[DeadLetter]:
        """The newest entry of each job (a job that died, was retried and died again has
        several), newest first, at most `limit`; walks the newest entries only."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT * FROM dlq d WHERE NOT EXISTS (SELECT 1 FROM dlq n"
                " WHERE n.job_id = d.job_id AND n.id > d.id) ORDER BY d.id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [_entry(r) for r in rows]

    def replay(
        self,
        selection: Selection,
        now: datetime,
        decide: Decide,
        spec_of: Callable[[Job], JobSpec],
        dry_run: bool = False,
    ) -> builtins.list[Replayed]:
        """Replay the selected entries, oldest first, in one transaction (a read one for a
        dry run): each entry `decide` does not skip gets a new job built by `spec_of` from
        its dead job, linked both ways (entry.replayed_job_id, job.replay_of). An unknown id
        is NotFound and nothing is written."""
        from jobctl.store.repos.jobs import JobsRepo, key_holder

        jobs = JobsRepo(self.db)
        with self.db.read() if dry_run else self.db.write() as conn:
            out = []
            for entry in self._selected(conn, selection):
                row = conn.execute("SELECT * FROM jobs WHERE id = ?", (entry.job_id,)).fetchone()
                job = job_from_row(row) if row is not None else None
                holder = key_holder(conn, job.key) if job is not None else None
                skipped = decide(entry, job, holder)
                new_id = None
                if skipped is None and not dry_run and job is not None:
                    new_id = jobs.enqueue_in(conn, spec_of(job), now)
                    conn.execute("UPDATE jobs SET replay_of = ? WHERE id = ?", (entry.id, new_id))
                    conn.execute(
                        "UPDATE dlq SET replayed_job_id = ?, replayed_at = ? WHERE id = ?",
                        (new_id, now.timestamp(), entry.id),
                    )
                out.append(Replayed(entry, job, new_id, skipped))
            return out

    def _selected(self, conn: Conn, selection: Selection) -> builtins.list[DeadLetter]:
        if not selection.ids:
            where, args = _where(selection)
            rows = conn.execute(f"SELECT * FROM dlq{where} ORDER BY id", args).fetchall()
            return [_entry(r) for r in rows]
        found = {}
        ids = list(dict.fromkeys(selection.ids))
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for r in conn.execute(f"SELECT * FROM dlq WHERE id IN ({marks})", chunk):
                found[r["id"]] = _entry(r)
        missing = [i for i in ids if i not in found]
        if missing:
            raise NotFound(f"no DLQ entry with id {missing[0]}")
        return [found[i] for i in ids]

    def purge(self, older_than: datetime | None) -> int:
        """Delete entries (created before `older_than`, or all); their dead jobs stay, unlinked.
        Returns how many were deleted."""
        where, args = _where(Selection(older_than=older_than))
        with self.db.write() as conn:
            ids = [r[0] for r in conn.execute(f"DELETE FROM dlq{where} RETURNING id", args)]
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                conn.execute(
                    f"UPDATE jobs SET dlq_id = NULL WHERE dlq_id IN ({','.join('?' * len(chunk))})",
                    chunk,
                )
        return len(ids)

    def replay_of(self, job_id: int) -> int | None:
        """The DLQ entry `job_id` was replayed from, if any."""
        with self.db.read() as conn:
            row = conn.execute("SELECT replay_of FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else row[0]

    def get(self, entry_id: int) -> DeadLetter:
        with self.db.read() as conn:
            row = conn.execute("SELECT * FROM dlq WHERE id = ?", (entry_id,)).fetchone()
        if row is None:
            raise NotFound(f"no DLQ entry with id {entry_id}")
        return _entry(row)


def _where(selection: Selection) -> tuple[str, list[object]]:
    where: list[str] = []
    args: list[object] = []
    for column, value in (("queue", selection.queue), ("failure_class", selection.failure_class)):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    if selection.since is not None:
        where.append("created_at >= ?")
        args.append(selection.since.timestamp())
    if selection.older_than is not None:
        where.append("created_at < ?")
        args.append(selection.older_than.timestamp())
    if selection.replayed is not None:
        where.append(f"replayed_job_id IS {'NOT ' if selection.replayed else ''}NULL")
    return (" WHERE " + " AND ".join(where) if where else ""), args
