"""SQLiteStore: one WAL database file and the repos over it."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from jobctl.store.sqlite.connection import Database

if TYPE_CHECKING:
    from jobctl.store.sqlite.audit import AuditRepo
    from jobctl.store.sqlite.daemons import DaemonsRepo
    from jobctl.store.sqlite.dispatch import DispatchRepo
    from jobctl.store.sqlite.dlq import DlqRepo
    from jobctl.store.sqlite.health import HealthRepo
    from jobctl.store.sqlite.jobs import JobsRepo
    from jobctl.store.sqlite.kafka import KafkaRepo
    from jobctl.store.sqlite.locks import LocksRepo
    from jobctl.store.sqlite.metrics import MetricsRepo
    from jobctl.store.sqlite.once import OnceRepo
    from jobctl.store.sqlite.queues import QueuesRepo
    from jobctl.store.sqlite.schedules import SchedulesRepo
    from jobctl.store.sqlite.stats import StatsRepo
    from jobctl.store.sqlite.sweeps import SweepsRepo
    from jobctl.store.sqlite.tokens import TokensRepo


class SQLiteStore:
    """The store over one SQLite file. One instance per thread. Repos load on first use,
    so a one-shot CLI command imports only what it touches."""

    def __init__(self, path: Path, synchronous: str = "FULL", create: bool = True) -> None:
        self.path = path
        self.db = Database(path, synchronous, create)

    @cached_property
    def jobs(self) -> JobsRepo:
        from jobctl.store.sqlite.jobs import JobsRepo

        return JobsRepo(self.db)

    @cached_property
    def dispatch(self) -> DispatchRepo:
        from jobctl.store.sqlite.dispatch import DispatchRepo

        return DispatchRepo(self.db)

    @cached_property
    def dlq(self) -> DlqRepo:
        from jobctl.store.sqlite.dlq import DlqRepo

        return DlqRepo(self.db)

    @cached_property
    def queues(self) -> QueuesRepo:
        from jobctl.store.sqlite.queues import QueuesRepo

        return QueuesRepo(self.db)

    @cached_property
    def daemons(self) -> DaemonsRepo:
        from jobctl.store.sqlite.daemons import DaemonsRepo

        return DaemonsRepo(self.db)

    @cached_property
    def schedules(self) -> SchedulesRepo:
        from jobctl.store.sqlite.schedules import SchedulesRepo

        return SchedulesRepo(self.db)

    @cached_property
    def stats(self) -> StatsRepo:
        from jobctl.store.sqlite.stats import StatsRepo

        return StatsRepo(self.db)

    @cached_property
    def health(self) -> HealthRepo:
        from jobctl.store.sqlite.health import HealthRepo

        return HealthRepo(self.db)

    @cached_property
    def audit(self) -> AuditRepo:
        from jobctl.store.sqlite.audit import AuditRepo

        return AuditRepo(self.db)

    @cached_property
    def sweeps(self) -> SweepsRepo:
        from jobctl.store.sqlite.sweeps import SweepsRepo

        return SweepsRepo(self.db)

    @cached_property
    def tokens(self) -> TokensRepo:
        from jobctl.store.sqlite.tokens import TokensRepo

        return TokensRepo(self.db)

    @cached_property
    def metrics(self) -> MetricsRepo:
        from jobctl.store.sqlite.metrics import MetricsRepo

        return MetricsRepo(self.db)

    @cached_property
    def once(self) -> OnceRepo:
        from jobctl.store.sqlite.once import OnceRepo

        return OnceRepo(self.db)

    @cached_property
    def locks(self) -> LocksRepo:
        from jobctl.store.sqlite.locks import LocksRepo

        return LocksRepo(self.db)

    @cached_property
    def kafka(self) -> KafkaRepo:
        from jobctl.store.sqlite.kafka import KafkaRepo

        return KafkaRepo(self.db)

    @property
    def url(self) -> str:
        return str(self.path)

    def data_version(self) -> int:
        return self.db.data_version()

    def close(self) -> None:
        self.db.close()
