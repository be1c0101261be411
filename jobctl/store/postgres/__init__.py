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
from jobctl.store.records import ServerFigures
from jobctl.store.repos import Repos

if TYPE_CHECKING:
    from jobctl.store.postgres.dispatch import PgDispatchRepo


class PostgresStore(Repos):
    """The store over a PostgreSQL schema. Thread-safe to share a pool, but one instance
    per thread (like SQLiteStore)."""

    kind = "postgres"
    db: PgDatabase
    keeps_output = True  # several hosts share it: output must be readable from any of them

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

    def server_figures(self) -> ServerFigures:
        """What `health` adds on a server: the jobs table's dead-tuple ratio and the age of
        the oldest open transaction (both hold back vacuum and slow every claim)."""
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT n_live_tup, n_dead_tup FROM pg_stat_user_tables"
                " WHERE schemaname = ? AND relname = 'jobs'",
                (self.pg.schema,),
            ).fetchone()
            oldest = conn.execute(
                "SELECT coalesce(max(extract(epoch FROM clock_timestamp() - xact_start)), 0)"
                " FROM pg_stat_activity WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid()"
                " AND datname = current_database()"
            ).fetchone()[0]
        live, dead = (int(row[0]), int(row[1])) if row else (0, 0)
        ratio = dead / (live + dead) if live + dead else 0.0
        return ServerFigures(dead_tuple_ratio=ratio, dead_tuples=dead, oldest_xact=float(oldest))

    def close(self) -> None:
        self.db.close()
