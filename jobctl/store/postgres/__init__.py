"""PostgresStore: jobctl's tables in one schema of a PostgreSQL database that 2-10 hosts
share; the repos' SQL is the same as on SQLite (store/repos), the claim is its own."""

from __future__ import annotations

from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING

from jobctl.domain.durations import from_epoch
from jobctl.store.postgres.connection import PgDatabase, connect, parse_url
from jobctl.store.postgres.feed import ListenFeed
from jobctl.store.postgres.schema import migrate
from jobctl.store.repos import Repos

if TYPE_CHECKING:
    from jobctl.store.postgres.dispatch import PgDispatchRepo


class PostgresStore(Repos):
    """The store over a PostgreSQL schema. Thread-safe to share a pool, but one instance
    per thread (like SQLiteStore)."""

    kind = "postgres"
    db: PgDatabase

    def __init__(self, url: str, create: bool = True) -> None:
        self.pg = parse_url(url)
        self.db = PgDatabase(self.pg)
        try:
            if not self.db.pool.migrated:
                raw = connect(self.pg)
                try:
                    migrate(raw, self.pg, create)
                finally:
                    raw.close()
                self.db.pool.migrated = True
        except BaseException:
            self.db.close()
            raise

    @cached_property
    def dispatch(self) -> PgDispatchRepo:
        from jobctl.store.postgres.dispatch import PgDispatchRepo

        return PgDispatchRepo(self.db)

    @property
    def url(self) -> str:
        return self.pg.display

    local_path = None  # no file: every host reaches the same server

    def changes(self) -> ListenFeed:
        """A change feed: LISTEN on its own connection (or polling, with `?poll=`)."""
        return ListenFeed(self.pg)

    def now(self) -> datetime:
        """The database server's clock: leases, heartbeats and fires are timed by it."""
        return from_epoch(self.db.now_epoch())

    def close(self) -> None:
        self.db.close()
