"""`db backup` and `db check` for any backend: a consistent copy into a new SQLite file, and
the integrity and schema version of a database. Each backend does the work its own way
(SQLite: the online backup API and its pragmas; PostgreSQL: one REPEATABLE READ snapshot)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jobctl.store import db_path_from, is_postgres


@dataclass(frozen=True)
class Copied:
    path: Path
    pages: int
    size: int  # bytes
    jobs: int


@dataclass(frozen=True)
class Integrity:
    """What the integrity checks said (`["ok"]` when healthy), the schema versions, and the
    invariants between jobctl's tables (`["ok"]` when they hold, `[]` when not run: not a
    jobctl database)."""

    where: str  # the database, fit to print
    integrity: list[str]
    quick: list[str]
    schema_version: int | None
    expected_version: int
    jobctl_tables: bool
    invariants: list[str]


def backup(url: str, dest: Path) -> Copied:
    """Copy the database at `url` into the new SQLite file `dest`, consistent while others
    write; `dest` appears only once complete."""
    if is_postgres(url):
        from jobctl.store.postgres import maintenance as pg

        return pg.backup(url, dest)
    from jobctl.store.sqlite import maintenance as lite

    return lite.backup(db_path_from(url), dest)


def check(url: str) -> Integrity:
    """Integrity, schema version and invariants of the database at `url` (NotFound when
    there is none), read in one snapshot; a damaged database is reported in the result, not
    raised."""
    if is_postgres(url):
        from jobctl.store.postgres import maintenance as pg

        return pg.check(url)
    from jobctl.store.sqlite import maintenance as lite

    return lite.check(db_path_from(url))
