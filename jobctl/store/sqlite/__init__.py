"""SQLiteStore: one WAL database file and the repos over it."""

from __future__ import annotations

from pathlib import Path

from jobctl.store.sqlite.connection import Database
from jobctl.store.sqlite.daemons import DaemonsRepo
from jobctl.store.sqlite.dispatch import DispatchRepo
from jobctl.store.sqlite.dlq import DlqRepo
from jobctl.store.sqlite.jobs import JobsRepo
from jobctl.store.sqlite.queues import QueuesRepo
from jobctl.store.sqlite.stats import StatsRepo


class SQLiteStore:
    """The store over one SQLite file. One instance per thread."""

    def __init__(self, path: Path, synchronous: str = "FULL") -> None:
        self.path = path
        self.db = Database(path, synchronous)
        self.jobs = JobsRepo(self.db)
        self.dispatch = DispatchRepo(self.db)
        self.dlq = DlqRepo(self.db)
        self.queues = QueuesRepo(self.db)
        self.daemons = DaemonsRepo(self.db)
        self.stats = StatsRepo(self.db)

    @property
    def url(self) -> str:
        return str(self.path)

    def data_version(self) -> int:
        return self.db.data_version()

    def close(self) -> None:
        self.db.close()
