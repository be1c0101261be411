"""Prometheus metrics (prometheus-client): counters the daemon updates through a Hook, and
gauges read from the DB at scrape time by a collector (cached ~1 s, indexed queries only).

Names (SPEC "Observability and API"): scheduler_dispatch_total{queue},
scheduler_dispatch_failed_total{queue} (attempts that failed, whatever the failure class:
not only spawn errors), scheduler_spawn_failed_total{queue} (attempts that could not be
started), scheduler_dispatch_latency_seconds{queue} (due → start),
scheduler_processed_total{queue,outcome}, scheduler_enqueued_total{queue} (jobs that
appeared in the DB while this daemon ran, from any process), and the gauges below.

In a cluster every daemon serves its own /metrics. The series of this daemon's own work
(dispatch, failures, latency, processed, HTTP requests) carry its `node` label, and
`jobctl_node_info{node,host,version,tags} 1` names the node of the process_* series (join
on `instance`). The gauges read from the database (queue depth, lag, running, dead
letters, schedules, notifications) describe the whole cluster and are the same from every
daemon: they carry no node label, and rules take `max by (queue)` of them, never a sum.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
    write_to_textfile,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from jobctl.config.model import DEFAULT_QUEUE, Config
from jobctl.domain.job import FailureClass, Job
from jobctl.ops.probes import ProbeCache
from jobctl.ops.schedule_health import schedule_health
from jobctl.runtime.hooks import Hook
from jobctl.store.repos.dispatch import Finish

if TYPE_CHECKING:
    from jobctl.store.protocol import Store

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)


class MetricsHook(Hook):
    """Counts claims and outcomes as the daemon reports them."""

    name = "metrics"

    def __init__(self, registry: CollectorRegistry, queues: list[str], node: str = "") -> None:
        self.node = node
        self.dispatched = Counter(
            "scheduler_dispatch", "Attempts started.", ["queue", "node"], registry=registry
        )
        self.failed = Counter(
            "scheduler_dispatch_failed",
            "Attempts that failed, whatever the failure class (exit, timeout, signal, spawn),"
            " retried or not.",
            ["queue", "node"],
            registry=registry,
        )
        self.spawn_failed = Counter(
            "scheduler_spawn_failed",
            "Attempts that could not be started (failure class spawn: command not found or"
            " not executable, unknown user, missing cwd).",
            ["queue", "node"],
            registry=registry,
        )
        self.latency = Histogram(
            "scheduler_dispatch_latency_seconds",
            "From a job being due to its attempt starting.",
            ["queue", "node"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.processed = Counter(
            "scheduler_processed",
            "Attempts ended, by the job's resulting state.",
            ["queue", "outcome", "node"],
            registry=registry,
        )
        for queue in queues:  # zero series from the start, so rate() works at once
            for counter in (self.dispatched, self.failed, self.spawn_failed, self.latency):
                counter.labels(queue, node)

    def on_claimed(self, job: Job, now: datetime) -> None:
        self.dispatched.labels(job.queue, self.node).inc()
        latency = max(0.0, (now - job.run_at).total_seconds())
        self.latency.labels(job.queue, self.node).observe(latency)

    def on_finished(self, job: Job, finish: Finish, now: datetime) -> None:
        if finish.decision.failure_class:
            self.failed.labels(job.queue, self.node).inc()
        if finish.decision.failure_class == FailureClass.SPAWN:
            self.spawn_failed.labels(job.queue, self.node).inc()
        self.processed.labels(job.queue, finish.decision.state.value, self.node).inc()


class HttpMetrics:
    """Requests served by the API, by route template, method and status code."""

    def __init__(self, registry: CollectorRegistry, node: str = "") -> None:
        self.node = node
        self.requests = Counter(
            "scheduler_http_requests",
            "HTTP requests answered.",
            ["route", "method", "code", "node"],
            registry=registry,
        )
        self.duration = Histogram(
            "scheduler_http_request_duration_seconds",
            "Time to answer an HTTP request.",
            ["route", "node"],
            registry=registry,
        )

    def observe(self, route: str, method: str, code: int, seconds: float) -> None:
        known = method if method in ("GET", "HEAD", "POST") else "other"
        self.requests.labels(route, known, str(code), self.node).inc()
        self.duration.labels(route, self.node).observe(seconds)


def _gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


def db_metrics(store: Store, config: Config, now: datetime) -> list[Metric]:
    """The DB-derived gauges, for a scrape or a textfile."""
    figures = store.stats.queue_figures(now)
    dlq = store.metrics.dlq_entries()
    names = sorted(set(figures) | set(dlq) | {q.name for q in config.queues} | {DEFAULT_QUEUE})
    depth = _gauge("scheduler_queue_depth", "Jobs due and waiting for a slot.", ["queue"])
    running = _gauge("scheduler_queue_running", "Jobs running.", ["queue"])
    lag = _gauge("scheduler_queue_lag_seconds", "Age of the oldest ready job.", ["queue"])
    dead = _gauge("scheduler_dlq_entries", "Dead letters not replayed.", ["queue"])
    for name in names:
        f = figures.get(name)
        oldest = f.oldest_ready_at if f else None
        depth.add_metric([name], f.ready if f else 0)
        running.add_metric([name], f.running if f else 0)
        lag.add_metric([name], max(0.0, now.timestamp() - oldest) if oldest else 0.0)
        dead.add_metric([name], dlq.get(name, 0))
    beat = _gauge(
        "scheduler_daemon_heartbeat_age_seconds", "Since a live daemon's last heartbeat.", ["node"]
    )
    for info in store.daemons.live(now):
        beat.add_metric([info.node], max(0.0, (now - info.heartbeat_at).total_seconds()))
    return [
        depth, running, lag, dead, beat, *_schedule_metrics(store, config, now),
        *_notify_metrics(store),
    ]  # fmt: skip


def _notify_metrics(store: Store) -> list[Metric]:
    """`jobctl_notifications_total{channel,outcome}` (delivered, dead, folded into a
    digest: settled deliveries kept in the DB, a week by default) and the deliveries still
    under way per channel."""
    total = CounterMetricFamily(
        "jobctl_notifications",
        "Notification deliveries settled, by channel and outcome (delivered, dead, folded).",
        labels=["channel", "outcome"],
    )
    pending = _gauge(
        "jobctl_notifications_pending",
        "Notification deliveries not settled yet (pending, sending, retrying).",
        ["channel"],
    )
    waiting: dict[str, int] = {}
    for (channel, state), count in sorted(store.notify.outcomes().items()):
        if state in ("delivered", "dead", "folded"):
            total.add_metric([channel, state], count)
        else:
            waiting[channel] = waiting.get(channel, 0) + count
    for channel, count in sorted(waiting.items()):
        pending.add_metric([channel], count)
    return [total, pending]


def _schedule_metrics(store: Store, config: Config, now: datetime) -> list[Metric]:
    success = _gauge(
        "scheduler_schedule_last_success_timestamp_seconds",
        "When the schedule's newest succeeded job finished (epoch seconds).",
        ["schedule"],
    )
    overdue = _gauge(
        "scheduler_schedule_overdue",
        "1 when the schedule's last success is older than its interval plus the grace"
        " (the dead man's switch of `jobctl health`).",
        ["schedule"],
    )
    grace = config.health.schedule_grace
    for s in store.schedules.list():
        last = store.health.last_success(s.name)
        if last is not None:
            success.add_metric([s.name], last.timestamp())
        verdict = schedule_health(store, s, now, grace)
        overdue.add_metric([s.name], 1 if verdict is not None and verdict.overdue else 0)
    return [success, overdue]


class ProbeCollector(Collector):
    """`jobctl_probe_up{probe}` (1 when the dependency answered as expected, a threshold
    warning included) and `jobctl_probe_seconds{probe}` of the dependency probes, from
    their cache (a scrape runs them at most once per `health.cache`)."""

    def __init__(self, cache: Callable[[], ProbeCache | None]) -> None:
        self.cache = cache

    def collect(self) -> Iterator[Metric]:
        cache = self.cache()
        results = cache.results() if cache is not None else []
        up = _gauge("jobctl_probe_up", "1 when the dependency probe passed, else 0.", ["probe"])
        seconds = _gauge("jobctl_probe_seconds", "How long the probe took.", ["probe"])
        for result in results:
            up.add_metric([result.probe.name], 1 if result.up else 0)
            seconds.add_metric([result.probe.name], result.seconds)
        yield from (up, seconds)


class DbCollector(Collector):
    """Scrape-time gauges from a dedicated store connection (used under a lock), cached
    for `ttl` seconds so a burst of scrapes costs one round of queries."""

    def __init__(
        self,
        store: Store,
        config: Callable[[], Config],
        now: Callable[[], datetime],
        monotonic: Callable[[], float],
        ttl: float = 1.0,
    ) -> None:
        self.store, self.config, self.now, self.monotonic, self.ttl = (
            store,
            config,
            now,
            monotonic,
            ttl,
        )
        self._lock = threading.Lock()
        self._cached: list[Metric] = []
        self._at = float("-inf")
        self._enqueued: dict[str, int] = {}
        self._cursor: int | None = store.metrics.jobs_after(None)[1]

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            if self.monotonic() - self._at >= self.ttl:
                self._cached = [*db_metrics(self.store, self.config(), self.now()), self._count()]
                self._at = self.monotonic()
            yield from self._cached

    def _count(self) -> Metric:
        counts, self._cursor = self.store.metrics.jobs_after(self._cursor)
        for queue, n in counts.items():
            self._enqueued[queue] = self._enqueued.get(queue, 0) + n
        family = CounterMetricFamily(
            "scheduler_enqueued",
            "Jobs enqueued (by any process) while this daemon ran.",
            labels=["queue"],
        )
        for queue in sorted(self._enqueued):
            family.add_metric([queue], self._enqueued[queue])
        return family


def daemon_registry(
    node: str = "", host: str = "", version: str = "", tags: Iterable[str] = ()
) -> CollectorRegistry:
    """A registry with the process and platform collectors (not the global one) and
    `jobctl_node_info{node,host,version,tags} 1`; no `_created` series."""
    disable_created_metrics()
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    Info(
        "jobctl_node",
        "The node this daemon runs as (join its process_* series on instance).",
        registry=registry,
    ).info({"node": node, "host": host, "version": version, "tags": ",".join(sorted(tags))})
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)


class _Static(Collector):
    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        yield from self.metrics


def _db_registry(store: Store, config: Config, now: datetime) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(_Static(db_metrics(store, config, now)))
    return registry


def render_text(store: Store, config: Config, now: datetime) -> str:
    """The DB-derived gauges in the text exposition format."""
    return generate_latest(_db_registry(store, config, now)).decode()


def write_textfile(store: Store, config: Config, now: datetime, path: Path) -> None:
    """Write the DB-derived gauges to `path` for node_exporter's textfile collector,
    atomically (a temporary file beside it, renamed over it)."""
    write_to_textfile(str(path), _db_registry(store, config, now))
