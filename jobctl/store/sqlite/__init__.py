"""SQLiteStore: one WAL database file and the repos over it."""

from __future__ import annotations

from pathlib import Path

from jobctl.store.repos import Repos
from jobctl.store.sqlite.database import SQLiteDatabase


class SQLiteStore(Repos):
    """The store over one SQLite file. One instance per thread."""

    kind = "sqlite"

    def __init__(self, path: Path, synchronous: str = "FULL") -> None:
        self.path = path
        self.db = SQLiteDatabase(path, synchronous)

    @property
    def url(self) -> str:
        return str(self.path)

    def data_version(self) -> int:
        return self.db.data_version()

    def close(self) -> None:
        self.db.close()
