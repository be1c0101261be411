"""Start and stop the HTTP API with the daemon. The socket is bound when the hook is built
(before the daemon starts), so a taken port fails the start-up with a clear message."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry

from jobctl import __version__
from jobctl.clock import Clock
from jobctl.config.model import DEFAULT_QUEUE, Config
from jobctl.domain.listen import format_addr
from jobctl.errors import Unavailable
from jobctl.ops import health
from jobctl.ops.probes import ProbeCache
from jobctl.ops.report import Report
from jobctl.runtime.hooks import Hook
from jobctl.runtime.http import metrics
from jobctl.runtime.http.messages import Request, Response
from jobctl.runtime.http.routes import ApiApp
from jobctl.runtime.http.server import HttpServer
from jobctl.store import open_store

if TYPE_CHECKING:
    from jobctl.runtime.daemon import Daemon
    from jobctl.store.protocol import Store


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class HttpHook(Hook):
    name = "http"

    def __init__(
        self,
        db_url: str,
        config: Config,
        host: str,
        port: int,
        registry: CollectorRegistry,
        workers: int = 16,
        node: str = "",
    ) -> None:
        self.db_url, self.config, self.registry, self.node = db_url, config, registry, node
        self.app: ApiApp | None = None
        self.collector: metrics.DbCollector | None = None
        self.probes: ProbeCache | None = None  # the dependency probes of health.probes
        self._clock: Clock | None = None
        try:
            self.server = HttpServer(
                (host, port), self._serve, workers=workers, reject=self._rejected
            )
        except OSError as exc:
            raise Unavailable(
                f"cannot listen on {format_addr(host, port)} (--http): {exc.strerror or exc}"
            ) from None

    def _serve(self, request: Request) -> Response:
        if self.app is None:
            return Response.error(503, "starting")
        return self.app(request)

    def _rejected(self, status: int, message: str) -> Response:
        if self.app is None:
            return Response.error(status, message)
        return self.app.rejected(status, message)

    def _exposition(self) -> tuple[bytes, str]:
        return metrics.exposition(self.registry), metrics.CONTENT_TYPE

    def _health(self, store: Store, config: Config, now: datetime) -> Report:
        """jobctl's own probes, then the dependency probes (cached: `health.cache`)."""
        own = health.check(store, config, now)
        found = self.probes.results() if self.probes is not None else []
        return Report.of([*own.probes, *(r.probe for r in found)])

    def _probe_cache(self, config: Config, clock: Clock) -> None:
        h = config.health
        if self.probes is None or self.probes.health != h:
            self.probes = ProbeCache(h.probes, h, h.cache, clock)
            self.probes.warm()

    def on_start(self, daemon: Daemon, now: datetime) -> None:
        clock = daemon.clock
        self._clock = clock
        self._probe_cache(self.config, clock)
        self.probe_collector = metrics.ProbeCollector(lambda: self.probes)
        self.registry.register(self.probe_collector)
        self.collector = metrics.DbCollector(
            open_store(self.db_url, synchronous="NORMAL"),
            lambda: self.config,
            clock.now,
            clock.monotonic,
        )
        self.registry.register(self.collector)
        self.app = ApiApp(
            self.db_url,
            lambda: self.config,
            clock,
            daemon.log,
            self._exposition,
            self._health,
            metrics.HttpMetrics(self.registry, self.node).observe,
        )
        self.server.start()
        host, port = self.server.server_address[:2]
        daemon.log.emit(now, "http.listening", addr=format_addr(host, port))
        if not _loopback(host):
            daemon.log.emit(
                now,
                "http.exposed",
                level="warning",
                addr=format_addr(host, port),
                note="/healthz, /metrics and /openapi.json answer without a token",
            )

    def on_reload(self, config: Config, now: datetime) -> None:
        self.config = config  # job types, queues and probes; the listen address stays
        if self._clock is not None:
            self._probe_cache(config, self._clock)

    def on_stop(self, now: datetime) -> None:
        self.server.stop()
        if self.app is not None:
            self.app.close()
        if self.collector is not None:
            self.registry.unregister(self.collector)
            self.registry.unregister(self.probe_collector)
            self.collector.store.close()


def http_hooks(db_url: str, config: Config, node: str = "", tags: Iterable[str] = ()) -> list[Hook]:
    """The metrics counters (labelled with the daemon's `node`) and the HTTP server, when
    `config.daemon.http` asks for them."""
    from jobctl.domain.listen import parse_listen

    if not config.daemon.http:
        return []
    host, port = parse_listen(config.daemon.http, "daemon.http")
    registry = metrics.daemon_registry(node, socket.gethostname(), __version__, tags)
    queues = sorted({DEFAULT_QUEUE} | {q.name for q in config.queues})
    return [
        metrics.MetricsHook(registry, queues, node),
        HttpHook(db_url, config, host, port, registry, node=node),
    ]
