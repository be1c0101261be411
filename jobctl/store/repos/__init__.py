"""The repos: every verb of the store, its SQL written once for both backends (see
store/database.py for the seam). A backend's store subclasses `Repos` and gives it `db`."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from jobctl.store.database import Database

if TYPE_CHECKING:
    from jobctl.store.repos.audit import AuditRepo
    from jobctl.store.repos.chores import ChoresRepo
    from jobctl.store.repos.daemons import DaemonsRepo
    from jobctl.store.repos.dispatch import DispatchRepo
    from jobctl.store.repos.dlq import DlqRepo
    from jobctl.store.repos.gangs import GangsRepo
    from jobctl.store.repos.health import HealthRepo
    from jobctl.store.repos.jobs import JobsRepo
    from jobctl.store.repos.kafka import KafkaRepo
    from jobctl.store.repos.locks import LocksRepo
    from jobctl.store.repos.metrics import MetricsRepo
    from jobctl.store.repos.nodes import NodesRepo
    from jobctl.store.repos.notify import NotifyRepo
    from jobctl.store.repos.once import OnceRepo
    from jobctl.store.repos.output import OutputRepo
    from jobctl.store.repos.queues import QueuesRepo
    from jobctl.store.repos.schedules import SchedulesRepo
    from jobctl.store.repos.stats import StatsRepo
    from jobctl.store.repos.sweeps import SweepsRepo
    from jobctl.store.repos.tokens import TokensRepo


class Repos:
    """The repos over one `Database`, each loaded on first use (a one-shot CLI command
    imports only what it touches)."""

    db: Database

    @cached_property
    def jobs(self) -> JobsRepo:
        from jobctl.store.repos.jobs import JobsRepo

        return JobsRepo(self.db)

    @cached_property
    def dispatch(self) -> DispatchRepo:
        from jobctl.store.repos.dispatch import DispatchRepo

        return DispatchRepo(self.db)

    @cached_property
    def dlq(self) -> DlqRepo:
        from jobctl.store.repos.dlq import DlqRepo

        return DlqRepo(self.db)

    @cached_property
    def queues(self) -> QueuesRepo:
        from jobctl.store.repos.queues import QueuesRepo

        return QueuesRepo(self.db)

    @cached_property
    def daemons(self) -> DaemonsRepo:
        from jobctl.store.repos.daemons import DaemonsRepo

        return DaemonsRepo(self.db)

    @cached_property
    def schedules(self) -> SchedulesRepo:
        from jobctl.store.repos.schedules import SchedulesRepo

        return SchedulesRepo(self.db)

    @cached_property
    def stats(self) -> StatsRepo:
        from jobctl.store.repos.stats import StatsRepo

        return StatsRepo(self.db)

    @cached_property
    def health(self) -> HealthRepo:
        from jobctl.store.repos.health import HealthRepo

        return HealthRepo(self.db)

    @cached_property
    def audit(self) -> AuditRepo:
        from jobctl.store.repos.audit import AuditRepo

        return AuditRepo(self.db)

    @cached_property
    def sweeps(self) -> SweepsRepo:
        from jobctl.store.repos.sweeps import SweepsRepo

        return SweepsRepo(self.db)

    @cached_property
    def tokens(self) -> TokensRepo:
        from jobctl.store.repos.tokens import TokensRepo

        return TokensRepo(self.db)

    @cached_property
    def metrics(self) -> MetricsRepo:
        from jobctl.store.repos.metrics import MetricsRepo

        return MetricsRepo(self.db)

    @cached_property
    def once(self) -> OnceRepo:
        from jobctl.store.repos.once import OnceRepo

        return OnceRepo(self.db)

    @cached_property
    def locks(self) -> LocksRepo:
        from jobctl.store.repos.locks import LocksRepo

        return LocksRepo(self.db)

    @cached_property
    def notify(self) -> NotifyRepo:
        from jobctl.store.repos.notify import NotifyRepo

        return NotifyRepo(self.db)

    @cached_property
    def kafka(self) -> KafkaRepo:
        from jobctl.store.repos.kafka import KafkaRepo

        return KafkaRepo(self.db)

    @cached_property
    def nodes(self) -> NodesRepo:
        from jobctl.store.repos.nodes import NodesRepo

        return NodesRepo(self.db)

    @cached_property
    def gangs(self) -> GangsRepo:
        from jobctl.store.repos.gangs import GangsRepo

        return GangsRepo(self.db)

    @cached_property
    def chores(self) -> ChoresRepo:
        from jobctl.store.repos.chores import ChoresRepo

        return ChoresRepo(self.db)

    @cached_property
    def output(self) -> OutputRepo:
        from jobctl.store.repos.output import OutputRepo

        return OutputRepo(self.db)
