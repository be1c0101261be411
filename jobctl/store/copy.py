"""`db copy`: a whole jobctl database from one store into another (SQLite or PostgreSQL
either way), read in one snapshot of the source and written in one transaction of the
destination, ids kept. Each backend gives a `Source` and a `Sink` (store/sqlite/copy.py,
store/postgres/copy.py); what is copied, in which order, lives here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from jobctl.domain.audit import AuditEntry
from jobctl.errors import InvalidInput, Refused
from jobctl.store import db_path_from, is_postgres
from jobctl.store.database import Conn

# Every table of jobctl's schema, parents before children (jobs before attempts): the
# order rows are copied in. A migration that adds a table adds it here or to NOT_COPIED
# (tests/store/test_copy.py fails, naming it, until it does).
TABLES = (
    "queues",
    "jobs",
    "gangs",
    "job_deps",
    "attempts",
    "attempt_output",
    "dlq",
    "schedules",
    "fires",
    "boots",
    "once_runs",
    "locks",
    "rate_claims",
    "sweeps",
    "api_tokens",
    "kafka_samples",
    "notify_events",
    "notify_deliveries",
    "notify_windows",
    "notify_streaks",
    "daemons",
    "nodes",
    "audit",
)
NOT_COPIED = {
    "cluster_chores": "which daemon does a cluster chore this term: the new store's daemons"
    " take the chores afresh",
    "schema_version": "each backend keeps its own schema version (PostgreSQL's table)",
    "_jobctl_sweeps": "a sweep target's marks: they stay in the file being swept",
    "_jobctl_sweep_marks": "a sweep target's marks: they stay in the file being swept",
}
BATCH_ROWS = 2000  # rows read and written at a time: memory stays flat however big the DB
# Tables with big rows take smaller batches: 32 output chunks of 64 KiB are 2 MiB at most.
BATCH_ROWS_OF = {"attempt_output": 32}


@dataclass(frozen=True)
class Step:
    """Progress: `done` of `total` rows copied, now in `table`."""

    table: str
    done: int
    total: int


@dataclass(frozen=True)
class CopyResult:
    source: str  # fit to print (no password)
    destination: str
    tables: dict[str, int]  # rows copied, per table

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


class Source(Protocol):
    """A jobctl database read inside one snapshot."""

    where: str

    def count(self, table: str) -> int: ...

    def stream(self, table: str, size: int) -> tuple[list[str], Iterator[Sequence[Any]]]:
        """The table's column names (from the cursor's description) and its rows in
        batches of up to `size`, never all in memory at once."""
        ...


class Sink(Protocol):
    """A jobctl database written inside one transaction, committed when its context ends
    without an error (nothing of it is left behind otherwise)."""

    where: str

    @property
    def conn(self) -> Conn:
        """The destination's transaction."""
        ...

    def load(self, table: str, columns: Sequence[str], rows: Sequence[Any]) -> None:
        """Insert rows as they are, ids included."""
        ...

    def advance_ids(self) -> None:
        """Make the ids generated from now on follow the highest copied ones."""
        ...


def shown(url: str) -> str:
    """The database at `url` fit to print: a PostgreSQL password replaced by `***`."""
    if is_postgres(url):
        from jobctl.store.postgres.connection import redact

        return redact(url)
    return str(db_path_from(url))


def same_database(a: str, b: str) -> bool:
    """Whether two URLs name the same database (the same file, or the same schema)."""
    if is_postgres(a) != is_postgres(b):
        return False
    if is_postgres(a):
        from jobctl.store.postgres.connection import parse_url

        pa, pb = parse_url(a), parse_url(b)
        return (pa.conninfo, pa.schema) == (pb.conninfo, pb.schema)
    path_a, path_b = db_path_from(a), db_path_from(b)
    if path_a.exists() and path_b.exists():
        return path_a.samefile(path_b)
    return path_a.resolve() == path_b.resolve()


def open_source(url: str) -> contextlib.AbstractContextManager[Source]:
    """The existing jobctl database at `url` (NotFound when there is none; never created or
    migrated), read in one consistent snapshot."""
    if is_postgres(url):
        from jobctl.store.postgres import copy as pg

        return pg.source(url)
    from jobctl.store.sqlite import copy as lite

    return lite.source(db_path_from(url))


def open_sink(url: str) -> contextlib.AbstractContextManager[Sink]:
    """The database at `url` as a copy's destination, created (with jobctl's schema) when
    missing, in one transaction that excludes every other writer."""
    if is_postgres(url):
        from jobctl.store.postgres import copy as pg

        return pg.sink(url, TABLES)
    from jobctl.store.sqlite import copy as lite

    path = db_path_from(url)
    return lite.existing_file(path) if path.exists() else lite.new_file(path, replace=False)


def filled_tables(conn: Conn) -> list[str]:
    """The tables that hold any row."""
    return [t for t in TABLES if conn.execute(f"SELECT 1 FROM {t} LIMIT 1").fetchone()]


def copy_rows(
    source: Source, sink: Sink, on_progress: Callable[[Step], None] | None = None
) -> dict[str, int]:
    """Every row of every table from `source` into `sink`, in TABLES order, then the ids
    moved past the copied ones; the rows copied per table."""
    counts = {t: source.count(t) for t in TABLES}
    total, done = sum(counts.values()), 0
    copied = dict.fromkeys(TABLES, 0)
    for table in TABLES:
        if on_progress is not None:
            on_progress(Step(table, done, total))
        if not counts[table]:
            continue
        columns, batches = source.stream(table, BATCH_ROWS_OF.get(table, BATCH_ROWS))
        for rows in batches:
            sink.load(table, columns, rows)
            copied[table] += len(rows)
            done += len(rows)
            if on_progress is not None:
                on_progress(Step(table, done, total))
    sink.advance_ids()
    return copied


def copy_database(
    src: str,
    dest: str,
    on_progress: Callable[[Step], None] | None = None,
    audit: Callable[[dict[str, int]], AuditEntry] | None = None,
) -> CopyResult:
    """Copy the jobctl database at `src` into the empty one at `dest` (created when
    missing): all or nothing, the source left as it is. A destination holding any row is
    Refused, unchanged; `audit`'s entry is recorded in the destination with the rows."""
    if same_database(src, dest):
        raise InvalidInput(f"db copy: SRC and DEST are the same database ({shown(src)})")
    with open_source(src) as source, open_sink(dest) as sink:
        filled = filled_tables(sink.conn)
        if filled:
            raise Refused(
                f"db copy: {sink.where} is not empty (rows in {', '.join(filled)}):"
                " copy only into an empty database; nothing copied"
            )
        copied = copy_rows(source, sink, on_progress)
        if audit is not None:
            from jobctl.store.repos.audit import AuditRepo

            AuditRepo.record_in(sink.conn, audit(copied))
        return CopyResult(source.where, sink.where, copied)


def new_sqlite_snapshot(src: str, dest: Path) -> tuple[dict[str, int], int]:
    """`src` copied into a new SQLite file at `dest` (replacing it), renamed into place once
    complete: the rows per table and the file's page count."""
    from jobctl.store.sqlite import copy as lite

    with open_source(src) as source, lite.new_file(dest, replace=True) as sink:
        copied = copy_rows(source, sink)
    return copied, sink.pages
