"""The seam between the shared repos and a backend: a `Database` hands out transactions, a
`Conn` runs SQL inside one. Repos write their SQL once, with `?` placeholders; a backend
translates what it must (PostgreSQL: `%s`) and gives `serialise` and `notify` their meaning.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol


class Row(Protocol):
    """A result row: by position (`row[0]`), by column name (`row["id"]`), and iterable."""

    def __getitem__(self, key: int | str) -> Any: ...

    def __iter__(self) -> Iterator[Any]: ...

    def keys(self) -> Sequence[str]: ...


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Conn(Protocol):
    """SQL inside one transaction."""

    kind: str  # "sqlite" | "postgres"

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """Run one statement (`?` placeholders); the cursor's rows are `Row`s."""
        ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement once per parameter row."""
        ...

    def insert_ids(self, sql: str, rows: Sequence[Sequence[Any]]) -> list[int]:
        """Run an `INSERT … RETURNING id` once per row; the new ids in row order."""
        ...

    def savepoint(self) -> AbstractContextManager[None]:
        """A nested all-or-nothing part of this transaction: an error in the block rolls
        back what it wrote (a unique constraint's refusal raised as Conflict) and leaves the
        rest of the transaction usable."""
        ...

    def serialise(self, *keys: str) -> None:
        """Hold these names until the transaction ends, against every other writer in any
        process or host (SQLite: its write lock already serialises every writer)."""
        ...

    def notify(self, topic: str) -> None:
        """Tell waiting daemons, once this transaction commits, that `topic` changed
        ("jobs": new ready work; "cancel"; "schedules"). SQLite's change feed needs none."""
        ...


class Database(Protocol):
    """One backend connection (or pool) and its transactions; one per thread."""

    kind: str
    commits: int  # write transactions this Database has committed (a cheap counter)

    def write(self) -> AbstractContextManager[Conn]:
        """A write transaction: committed when the block ends, rolled back on error."""
        ...

    def read(self) -> AbstractContextManager[Conn]:
        """A consistent read-only snapshot."""
        ...

    def quick_check(self, tables: Sequence[str]) -> list[str]:
        """Problems found by a cheap look at the schema and these small tables (empty when
        sound); never slow, whatever the size of the big tables."""
        ...

    def close(self) -> None: ...


class Conflict(Exception):
    """A unique constraint refused a row (raised by either backend's Conn)."""
