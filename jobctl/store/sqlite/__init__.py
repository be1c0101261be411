"""SQLiteStore: one WAL database file and the repos over it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from jobctl.clock import utcnow
from jobctl.store.repos import Repos
from jobctl.store.sqlite.database import SQLiteDatabase

if TYPE_CHECKING:
    from jobctl.store.sqlite.feed import SQLiteFeed


class SQLiteStore(Repos):
    """The store over one SQLite file. One instance per thread."""

    kind = "sqlite"
    db: SQLiteDatabase
    # The attempt's log file on the one host is enough: the daemon keeps output in files
    # (the attempt_output table holds only what `db copy` brought from PostgreSQL).
    keeps_output = False

    def __init__(self, path: Path, synchronous: str = "FULL", create: bool = True) -> None:
        self.path = path
        self.db = SQLiteDatabase(path, synchronous, create)

    @property
    def url(self) -> str:
        return str(self.path)

    @property
    def local_path(self) -> Path:
        return self.path

    def changes(self) -> SQLiteFeed:
        """A change feed on this store's connection (use it from this store's thread)."""
        from jobctl.store.sqlite.feed import SQLiteFeed  # inotify via ctypes: daemons only

        return SQLiteFeed(self.db)

    def now(self) -> datetime:
        return utcnow()

    def server_figures(self) -> None:
        """None: no server (see PostgresStore.server_figures)."""
        return None

    def close(self) -> None:
        self.db.close()
