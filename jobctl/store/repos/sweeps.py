"""The sweep registry in jobctl's own DB: name, target, table, predicate, counts, state and
a mirror of the progress cursor (the target's own progress row is the truth)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jobctl.domain import sweep as sw
from jobctl.domain.digits import parse_digits
from jobctl.domain.durations import from_epoch
from jobctl.errors import InvalidInput, NotFound
from jobctl.store.database import Conflict, Database


@dataclass(frozen=True)
class NewSweep:
    name: str | None  # None: named sweep-ID
    kind: str
    target: str
    table: str
    schema: str | None
    keys: tuple[str, ...]
    predicate: str
    token: str
    marked_by: str
    grace_until: datetime


def _sweep(row: Any) -> sw.Sweep:
    return sw.Sweep(
        id=row["id"],
        name=row["name"],
        target=row["target"],
        table=row["table_name"],
        predicate=row["predicate"],
        state=row["state"],
        marked=row["marked"],
        deleted=row["deleted"],
        skipped=row["skipped"],
        done=row["done"],
        grace_until=from_epoch(row["grace_until"]),
        marked_at=from_epoch(row["marked_at"]),
        marked_by=row["marked_by"],
        token=row["token"],
        keys=tuple(json.loads(row["key_columns"])),
        schema=row["table_schema"],
        kind=row["kind"],
        run_by=row["run_by"],
        started_at=from_epoch(row["started_at"]),
        finished_at=from_epoch(row["finished_at"]),
    )


class SweepsRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, new: NewSweep, now: datetime) -> sw.Sweep:
        """Register a sweep in state `marking`; InvalidInput when a live sweep has the name."""
        if new.name is not None:
            self._check_name_free(new.name)
        try:
            with self.db.write() as conn:
                sweep_id = conn.execute(
                    "INSERT INTO sweeps (name, kind, target, table_name, table_schema,"
                    " key_columns, predicate, token, state, marked_at, marked_by, grace_until)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    (
                        new.name or new.token,
                        new.kind,
                        new.target,
                        new.table,
                        new.schema,
                        json.dumps(list(new.keys)),
                        new.predicate,
                        new.token,
                        sw.MARKING,
                        now.timestamp(),
                        new.marked_by,
                        new.grace_until.timestamp(),
                    ),
                ).fetchone()[0]
                if new.name is None:
                    conn.execute(
                        "UPDATE sweeps SET name = ? WHERE id = ?",
                        (sw.default_name(sweep_id), sweep_id),
                    )
        except Conflict:
            raise InvalidInput(f"a live sweep is already named {new.name!r}") from None
        return self.get(sweep_id)

    def _check_name_free(self, name: str) -> None:
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT id FROM sweeps WHERE name = ? AND state IN ('marking', 'marked',"
                " 'running')",
                (name,),
            ).fetchone()
        if row is not None:
            raise InvalidInput(f"--name {name!r} is taken by live sweep {row[0]}")

    def get(self, sweep_id: int) -> sw.Sweep:
        with self.db.read() as conn:
            row = conn.execute("SELECT * FROM sweeps WHERE id = ?", (sweep_id,)).fetchone()
        if row is None:
            raise NotFound(f"no sweep {sweep_id}")
        return _sweep(row)

    def find(self, ref: str) -> sw.Sweep:
        """By id, or by name (the live sweep of that name, else the newest)."""
        sweep_id = parse_digits(ref)
        if sweep_id is not None:
            return self.get(sweep_id)
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT * FROM sweeps WHERE name = ? ORDER BY state IN ('marking', 'marked',"
                " 'running') DESC, id DESC LIMIT 1",
                (ref,),
            ).fetchone()
        if row is None:
            raise NotFound(f"no sweep {ref!r}")
        return _sweep(row)

    def list(self, kind: str | None = None, states: tuple[str, ...] = ()) -> list[sw.Sweep]:
        """Oldest first, optionally of one kind and in some states."""
        where: list[str] = []
        args: list[Any] = []
        if kind is not None:
            where.append("kind = ?")
            args.append(kind)
        if states:
            where.append(f"state IN ({', '.join('?' * len(states))})")
            args += list(states)
        sql = "SELECT * FROM sweeps" + (" WHERE " + " AND ".join(where) if where else "")
        with self.db.read() as conn:
            return [_sweep(r) for r in conn.execute(sql + " ORDER BY id", args).fetchall()]

    def finish_marking(self, sweep_id: int, marked: int) -> sw.Sweep:
        with self.db.write() as conn:
            conn.execute(
                "UPDATE sweeps SET marked = ?, state = 'marked' WHERE id = ? AND state = 'marking'",
                (marked, sweep_id),
            )
        return self.get(sweep_id)

    def start_run(self, sweep_id: int, run_by: str, now: datetime) -> None:
        with self.db.write() as conn:
            conn.execute(
                "UPDATE sweeps SET state = 'running', run_by = ?,"
                " started_at = coalesce(started_at, ?) WHERE id = ? AND state IN"
                " ('marked', 'running')",
                (run_by, now.timestamp(), sweep_id),
            )

    def save_progress(
        self, sweep_id: int, done: int, deleted: int, skipped: int, finished_at: datetime | None
    ) -> None:
        """Mirror the target's progress; `finished_at` set marks the sweep done."""
        with self.db.write() as conn:
            conn.execute(
                "UPDATE sweeps SET done = ?, deleted = ?, skipped = ?, state = coalesce(?, state),"
                " finished_at = coalesce(?, finished_at) WHERE id = ? AND state != 'unmarked'",
                (
                    done,
                    deleted,
                    skipped,
                    None if finished_at is None else "done",
                    finished_at and finished_at.timestamp(),
                    sweep_id,
                ),
            )

    def set_unmarked(self, sweep_id: int, now: datetime) -> None:
        with self.db.write() as conn:
            conn.execute(
                "UPDATE sweeps SET state = 'unmarked', finished_at = ? WHERE id = ?",
                (now.timestamp(), sweep_id),
            )

    def forget_finished(self, kind: str, name: str, keep: int) -> int:
        """Drop all but the newest `keep` finished (done/unmarked) sweeps of this kind and
        name from the registry; returns how many went."""
        with self.db.write() as conn:
            return conn.execute(
                "DELETE FROM sweeps WHERE kind = ? AND name = ? AND state IN ('done', 'unmarked')"
                " AND id NOT IN (SELECT id FROM sweeps WHERE kind = ? AND name = ?"
                " AND state IN ('done', 'unmarked') ORDER BY id DESC LIMIT ?)",
                (kind, name, kind, name, keep),
            ).rowcount

    def delete(self, sweep_id: int) -> None:
        """Forget a sweep whose marking failed."""
        with self.db.write() as conn:
            conn.execute("DELETE FROM sweeps WHERE id = ?", (sweep_id,))
