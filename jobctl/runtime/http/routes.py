"""The API application: routing, auth, error mapping and access log lines.

Each worker thread gets its own store (its own SQLite connection). Errors become JSON
`{"error": …}` bodies: 400 malformed JSON, 401/403 auth, 404 route or job, 405 method,
422 invalid input, 503 backpressure or an unavailable DB. Bad input never yields a 500.
(The server answers what never reaches here: 408 too slow, 413 body limit, 400/431/505 on
the wire; `rejected` logs and counts those.)
"""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jobctl.clock import Clock
from jobctl.config.model import Config
from jobctl.domain.audit import Actor
from jobctl.errors import InvalidInput, JobctlError, NotFound, Refused, WrongState
from jobctl.ops import audit
from jobctl.ops.shapes import job_shape
from jobctl.runtime.eventlog import EventLog
from jobctl.runtime.http import admin_api, auth, jobs_api, openapi, status_page
from jobctl.runtime.http.messages import Request, Response
from jobctl.store import open_store
from jobctl.store.group_commit import GroupCommit

if TYPE_CHECKING:
    from jobctl.store.protocol import Store


RECENT_DEAD = 20
HEALTH_TTL = 1.0  # seconds a /healthz report is reused
HTML = "text/html; charset=utf-8"


@dataclass(frozen=True)
class Call:
    request: Request
    store: Store  # this worker thread's own connection
    config: Config
    request_id: str
    now: datetime
    params: tuple[str, ...] = ()
    token: str | None = None  # the name of the token that authorized the call


Handler = Callable[["ApiApp", Call], Response]


@dataclass(frozen=True)
class Route:
    name: str  # the path template: a bounded label for metrics
    pattern: re.Pattern[str]
    methods: dict[str, tuple[Handler, str | None]]  # method -> (handler, scope or None)


class ApiApp:
    """Callable `Request -> Response` served by `server.HttpServer` on its workers."""

    def __init__(
        self,
        db_url: str,
        config: Callable[[], Config],
        clock: Clock,
        log: EventLog,
        metrics: Callable[[], tuple[bytes, str]],
        health: Callable[[Store, Config, datetime], Any],
        observe: Callable[[str, str, int, float], None] | None = None,
    ) -> None:
        self.db_url, self.config, self.clock, self.log = db_url, config, clock, log
        self.metrics, self.health, self.observe = metrics, health, observe
        self.host = socket.gethostname()
        self._local = threading.local()
        self._stores: list[Store] = []
        self._lock = threading.Lock()
        self._health_lock = threading.Lock()
        self._health: tuple[float, dict[str, Any] | None] = (0.0, None)
        self.group_commit = GroupCommit(self.store)  # enqueues of the workers share commits

    def store(self) -> Store:
        """This thread's store (SQLite connections are per thread)."""
        store = getattr(self._local, "store", None)
        if store is None:
            sync = "NORMAL" if self.config().durability == "fast" else "FULL"
            store = self._local.store = open_store(self.db_url, synchronous=sync)
            with self._lock:
                self._stores.append(store)
        return store

    def health_shape(self, call: Call) -> dict[str, Any]:
        """The health report, run at most once per HEALTH_TTL however often it is polled
        (/healthz needs no token: it must not be a cheap way to load the DB)."""
        with self._health_lock:
            at, shape = self._health
            if shape is None or self.clock.monotonic() - at >= HEALTH_TTL:
                shape = self.health(call.store, call.config, call.now).shape()
                self._health = (self.clock.monotonic(), shape)
            return shape

    def close(self) -> None:
        with self._lock:
            for store in self._stores:
                store.close()
            self._stores.clear()

    def rejected(self, status: int, message: str) -> Response:
        """The answer to a request the server refused before it was whole (408, 413, a
        malformed head): logged and counted like any other, with a request id."""
        request_id = audit.new_request_id()
        if self.observe is not None:
            self.observe("other", "other", status, 0.0)
        self.log.emit(
            self.clock.now(), "http.rejected", status=status, error=message, request_id=request_id
        )
        return Response.error(status, message, headers={"X-Request-Id": request_id})

    def __call__(self, request: Request) -> Response:
        request_id = audit.new_request_id()
        started = self.clock.monotonic()
        try:
            response = self._route(request, request_id)
        except JobctlError as exc:  # the DB cannot be opened or is busy beyond the timeout
            response = Response.error(503, str(exc), headers={"Retry-After": "1"})
        except Exception as exc:  # a bug, not bad input: log it, answer 500
            self.log.emit(
                self.clock.now(),
                "http.error",
                level="error",
                request_id=request_id,
                path=request.path,
                error=f"{type(exc).__name__}: {exc}",
            )
            response = Response.error(500, "internal error")
        response.headers["X-Request-Id"] = request_id
        elapsed = self.clock.monotonic() - started
        if self.observe is not None:
            self.observe(_route_name(request.path), request.method, response.status, elapsed)
        self.log.emit(
            self.clock.now(),
            "http.request",
            level="warning" if response.status >= 500 else "info",
            method=request.method,
            path=request.path,
            status=response.status,
            duration_ms=round(elapsed * 1000, 1),
            request_id=request_id,
            **response.log,
        )
        return response

    def _route(self, request: Request, request_id: str) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        for route in ROUTES:
            match = route.pattern.fullmatch(request.path)
            if match is None:
                continue
            if method not in route.methods:
                allowed = ", ".join(sorted(route.methods))
                return Response.error(
                    405, f"method {request.method} not allowed", headers={"Allow": allowed}
                )
            handler, scope = route.methods[method]
            store = self.store()
            now = self.clock.now()
            call = Call(request, store, self.config(), request_id, now, match.groups())
            if scope is not None:
                token = auth.authorize(store, request.headers, scope)
                if isinstance(token, Response):
                    return token
                call = replace(call, token=token.name)
            return _guarded(handler, self, call)
        return Response.error(404, f"no route {request.path}")


def _route_name(path: str) -> str:
    return next((r.name for r in ROUTES if r.pattern.fullmatch(path)), "other")


def _guarded(handler: Handler, app: ApiApp, call: Call) -> Response:
    try:
        return handler(app, call)
    except jobs_api.MalformedBody as exc:
        return Response.error(400, str(exc))
    except InvalidInput as exc:
        return Response.error(422, str(exc))
    except NotFound as exc:
        return Response.error(404, str(exc))
    except Refused as exc:  # a guard rail: confirm with {"confirm": "…"}
        return Response.error(403, str(exc))
    except WrongState as exc:
        return Response.error(409, str(exc))
    except JobctlError as exc:  # Unavailable (backpressure, busy DB) or a store error
        return Response.error(503, str(exc), headers={"Retry-After": "1"})


def _enqueue(app: ApiApp, call: Call) -> Response:
    body = jobs_api.parse_body(call.request.body)
    actor = Actor(name=f"token:{call.token}", uid=None, host=app.host)
    created, job = jobs_api.enqueue(
        call.store, app.group_commit, call.config, body, call.now, call.request_id, actor
    )
    fields = {"job_id": job["id"], "queue": job["queue"], "attempt": job["attempts"]}
    return Response.json(
        201 if created else 200,
        job,
        headers={"Location": f"/internal/jobs/{job['id']}"},
        log=fields,
    )


def _get_job(app: ApiApp, call: Call) -> Response:
    job_id = jobs_api.job_id_from(call.params[0])
    if job_id is None:
        return Response.error(404, f"no job {call.params[0]!r}")
    job = call.store.jobs.get(job_id)
    fields = {"job_id": job.id, "queue": job.queue, "attempt": job.attempts}
    return Response.json(200, job_shape(job, call.now), log=fields)


def _healthz(app: ApiApp, call: Call) -> Response:
    shape = app.health_shape(call)
    return Response.json(200 if shape["status"] in ("OK", "WARNING") else 503, shape)


def _metrics(app: ApiApp, call: Call) -> Response:
    body, content_type = app.metrics()
    return Response(200, body, content_type)


def _status(app: ApiApp, call: Call) -> Response:
    page = status_page.page(call.store, call.config, call.now, RECENT_DEAD)
    return Response(200, page.encode(), HTML)


_OPENAPI = json.dumps(openapi.document(), indent=1).encode()


def _openapi(app: ApiApp, call: Call) -> Response:
    return Response(200, _OPENAPI, "application/json")


def _admin(name: str, pattern: str, handler: Handler) -> Route:
    """A POST route of the admin API (scope admin)."""
    return Route(name, re.compile(pattern), {"POST": (handler, "admin")})


ROUTES = (
    Route("/internal/jobs", re.compile(r"/internal/jobs"), {"POST": (_enqueue, "enqueue")}),
    _admin("/internal/jobs/retry", r"/internal/jobs/retry", admin_api.retry_bulk),
    _admin("/internal/jobs/cancel", r"/internal/jobs/cancel", admin_api.cancel_bulk),
    _admin("/internal/jobs/{id}/retry", r"/internal/jobs/([^/]+)/retry", admin_api.retry_one),
    _admin("/internal/jobs/{id}/cancel", r"/internal/jobs/([^/]+)/cancel", admin_api.cancel_one),
    _admin(
        "/internal/schedules/{name}/{action}",
        r"/internal/schedules/([^/]+)/(pause|resume|run)",
        admin_api.schedule_action,
    ),
    Route(
        "/internal/jobs/{id}", re.compile(r"/internal/jobs/([^/]+)"), {"GET": (_get_job, "read")}
    ),
    Route("/healthz", re.compile(r"/healthz"), {"GET": (_healthz, None)}),
    Route("/metrics", re.compile(r"/metrics"), {"GET": (_metrics, None)}),
    Route("/status", re.compile(r"/status"), {"GET": (_status, "read")}),
    Route("/openapi.json", re.compile(r"/openapi\.json"), {"GET": (_openapi, None)}),
)
