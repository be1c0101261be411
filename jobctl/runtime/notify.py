"""The daemon's notification delivery: a thread of its own (own store connection) routes new
outbox events with the config's routes, makes digests when a max_per window ends, claims
due deliveries under a lease and sends them on a bounded pool, at most a few per channel at
once, each with the channel's timeout, retried with its backoff until it gives up (dead).
Dispatch never waits for any of it: the daemon's thread only wakes this one up.

It also scans for what no state change records: runs past their max_runtime (too_long) and
schedules whose day's run had not succeeded by their deadline.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from jobctl.clock import Clock
from jobctl.config.model import Config
from jobctl.config.notify import Channel
from jobctl.domain.job import Job, State
from jobctl.domain.notify import MAILTO_ROUTE, Ownership, Window, digest_due, last_deadline, plan
from jobctl.domain.schedule import Schedule
from jobctl.errors import JobctlError
from jobctl.ops.notify.channels import Outgoing, SendFailed, send
from jobctl.runtime.hooks import Hook
from jobctl.store import Store, open_store
from jobctl.store.repos.notify import Delivery, Settled

if TYPE_CHECKING:
    from jobctl.runtime.daemon import Daemon
    from jobctl.store.repos.dispatch import Finish

POLL = 0.5  # seconds between looks for other daemons' events (a local finish wakes at once)
SCAN = 5.0  # seconds between too_long / deadline scans
PRUNE = 600.0  # seconds between prunes of settled rows
KEEP = 7 * 86400.0  # settled deliveries and events are kept this long
WORKERS = 8  # batches in flight at once
PER_CHANNEL = 2  # of which at most this many for one channel (a hung one holds no more)
BATCH = 8  # deliveries of one channel a worker sends one after another
LEASE_MARGIN = 5.0  # a claim's lease: BATCH times the channel's timeout plus this
MIN_GAP = 0.1  # seconds between passes: events that come in a burst are handled together


@dataclass(frozen=True)
class Sent:
    """One send's outcome on a pool thread: the channel's answer, and the error if failed."""

    delivery: Delivery
    answer: str | None
    error: str | None


class NotifyHook(Hook):
    name = "notify"

    def __init__(
        self,
        db_url: str,
        config: Config,
        clock: Clock,
        poll: float = POLL,
        send_fn: Callable[[Channel, Outgoing], str] = send,
    ) -> None:
        self.db_url, self.config, self.clock, self.poll = db_url, config, clock, poll
        self.send = send_fn
        self._store: Store | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._inflight: dict[Future[list[Sent]], tuple[Channel, list[Delivery]]] = {}
        self._last_scan = self._last_prune = float("-inf")
        self._daemon: Daemon | None = None

    # --- hook events (the daemon's thread: quick) -----------------------------------------
    def on_start(self, daemon: Daemon, now: datetime) -> None:
        self._daemon = daemon
        self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="jobctl-notify-send")
        self._thread = threading.Thread(target=self._run, name="jobctl-notify", daemon=True)
        self._thread.start()

    def on_finished(self, job: Job, finish: Finish, now: datetime) -> None:
        if finish.decision.state in (State.DEAD, State.RETRYING, State.SUCCEEDED):
            self._wake.set()

    def on_reload(self, config: Config, now: datetime) -> None:
        """A reload that changes channels or routes is audited (`notify.routes`: names,
        kinds, matches, secret file paths; never a secret)."""
        old, self.config = self.config, config
        self._wake.set()
        if old.notify != config.notify and self._daemon is not None:
            from jobctl.config.notify import route_data
            from jobctl.ops.audit import current_actor, new_request_id, record

            args = {
                "channels": [f"{c.name}:{c.kind}" for c in config.notify.channels],
                "routes": [route_data(r) for r in config.notify.routes],
            }
            record(self._daemon.store, now, current_actor(), new_request_id(),
                   "notify.routes", config.source, args)  # fmt: skip

    def on_stop(self, now: datetime) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10.0)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    # --- the loop ----------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.work()
            except Exception as exc:  # a DB hiccup: log, go on (claims are leased)
                self._log("notify.failed", level="warning", error=str(exc))
            passed = self.clock.monotonic()
            self._wake.wait(self.poll)
            self._wake.clear()
            rest = MIN_GAP - (self.clock.monotonic() - passed)
            if rest > 0:
                self._stop.wait(rest)
        try:
            self._settle(wait=2.0)
        except Exception as exc:
            self._log("notify.failed", level="warning", error=str(exc))
        if self._store is not None:
            self._store.close()
            self._store = None

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = open_store(self.db_url)
        return self._store

    def work(self) -> None:
        """One pass: settle finished sends, scan, route, digest, claim and send."""
        self._settle()
        now = self.clock.now()
        mono = self.clock.monotonic()
        if mono - self._last_scan >= SCAN:
            self._last_scan = mono
            self.scan(now)
        if mono - self._last_prune >= PRUNE:
            self._last_prune = mono
            self.store.notify.prune(now - timedelta(seconds=KEEP))
        if not self.store.notify.pending(now):
            return
        self.route(now)
        self._send_due(now)

    def route(self, now: datetime) -> None:
        """Route new events and make the digests whose window ended."""
        notify = self.config.notify
        limits = {r.name: r.max_per for r in notify.routes}
        job_types = {t.name: Ownership(t.owner, t.severity) for t in self.config.job_types}
        queues = {q.name: Ownership(q.owner, q.severity) for q in self.config.queues}

        def router(events, windows):  # type: ignore[no-untyped-def]
            return plan(events, notify.routes, windows, now, job_types, queues)

        while self.store.notify.route(now, router) and not self._stop.is_set():
            pass

        def due(route: str, window: Window) -> bool:
            return digest_due(window, limits.get(route), now)

        self.store.notify.digests(now, due)

    def _send_due(self, now: datetime) -> None:
        busy: dict[str, int] = {}
        for channel, _batch in self._inflight.values():
            busy[channel.name] = busy.get(channel.name, 0) + 1
        free = WORKERS - len(self._inflight)
        if free <= 0:
            return
        timeout = max((c.timeout for c in self.config.notify.channels), default=10.0)
        lease = BATCH * timeout + LEASE_MARGIN  # a batch is sent one after another
        claimed = self.store.notify.claim(
            now, free * BATCH, lease, {k: v * BATCH for k, v in busy.items()}, PER_CHANNEL * BATCH
        )
        batches: dict[str, list[Delivery]] = {}
        gone: list[Settled] = []
        for delivery in claimed:
            if self._channel(delivery.channel) is None:
                error = f"no channel {delivery.channel!r} in the config any more"
                gone.append(Settled(delivery.id, delivery.attempts, None, error))
                continue
            batches.setdefault(delivery.channel, []).append(delivery)
        if gone:
            self.store.notify.settle(gone, now)
        if self._pool is None:  # driven without on_start (tests: work() + settle())
            self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="jobctl-notify-send")
        for name, deliveries in batches.items():
            target = self._channel(name)
            assert target is not None
            for start in range(0, len(deliveries), BATCH):
                batch = deliveries[start : start + BATCH]
                future = self._pool.submit(self._send_batch, target, batch)
                future.add_done_callback(lambda _f: self._wake.set())
                self._inflight[future] = (target, batch)

    def _send_batch(self, channel: Channel, batch: list[Delivery]) -> list[Sent]:
        """Send a channel's deliveries one after another (on a pool thread)."""
        out = []
        for delivery in batch:
            outgoing = Outgoing(delivery.event, delivery.route, delivery.folded)
            try:
                out.append(Sent(delivery, self.send(channel, outgoing), None))
            except SendFailed as exc:
                out.append(Sent(delivery, exc.answer, str(exc)))
            except Exception as exc:  # a bug in a sender must not lose the delivery
                out.append(Sent(delivery, None, f"{type(exc).__name__}: {exc}"))
        return out

    def settle(self, wait: float = 0.0) -> None:
        """Record the sends that finished (delivered, retrying, dead), waiting up to `wait`
        seconds for those in flight."""
        self._settle(wait)

    def _channel(self, name: str) -> Channel | None:
        """A config channel, or for `mailto:ADDRESS` (an imported crontab's MAILTO) the
        config's `mailto` email channel sending to ADDRESS, else the local sendmail."""
        if not name.startswith(f"{MAILTO_ROUTE}:"):
            return self.config.notify.channel(name)
        address = name.split(":", 1)[1]
        base = self.config.notify.channel(MAILTO_ROUTE)
        if base is not None and base.kind == "email":
            return replace(base, name=name, to=(address,))
        return Channel(name, "email", to=(address,))

    def _settle(self, wait: float = 0.0) -> None:
        """Every finished batch's outcomes in one transaction, then their log lines."""
        if wait and self._inflight:
            from concurrent.futures import wait as wait_for

            wait_for(list(self._inflight), timeout=wait)
        done = [f for f in self._inflight if f.done()]
        if not done:
            return
        now = self.clock.now()
        outcomes: list[Settled] = []
        lines: list[tuple[str, dict[str, object]]] = []
        for future in done:
            channel, batch = self._inflight.pop(future)
            try:
                sent = future.result()
            except Exception as exc:  # the pool itself failed: every delivery retries
                sent = [Sent(d, None, f"{type(exc).__name__}: {exc}") for d in batch]
            for item in sent:
                d = item.delivery
                fields: dict[str, object] = {"delivery_id": d.id, "channel": channel.name,
                                             "attempt": d.attempts}  # fmt: skip
                if item.error is None:
                    outcomes.append(Settled(d.id, d.attempts, item.answer))
                    lines.append(
                        ("notify.delivered", {**fields, "answer": (item.answer or "")[:200]})
                    )
                    continue
                retry_at = channel.backoff.next_at(d.attempts, d.created_at, now)
                outcomes.append(Settled(d.id, d.attempts, item.answer, item.error, retry_at))
                event = "notify.retrying" if retry_at else "notify.dead"
                lines.append((event, {**fields, "level": "warning", "error": item.error[:300]}))
        self.store.notify.settle(outcomes, now)
        for event, fields in lines:
            self._log(event, **fields)  # type: ignore[arg-type]

    # --- scans: what no state change records -------------------------------------------
    def scan(self, now: datetime) -> None:
        """Record what no state change does: too_long, node_down, dlq_growth (over the
        `health.warn_dlq_growth` threshold) and deadline events."""
        self.store.notify.record_too_long(now)
        self.store.notify.record_node_down(now)
        growth = self.config.health.warn_dlq_growth
        if growth is not None:
            self.store.notify.record_dlq_growth(now, growth)
        for schedule in self.store.schedules.list():
            if not schedule.deadline or not schedule.enabled:
                continue
            try:
                self._deadline(schedule, schedule.deadline, now)
            except (JobctlError, ValueError, KeyError) as exc:
                self._log("notify.scan_failed", level="warning", schedule=schedule.name,
                          error=str(exc))  # fmt: skip

    def _deadline(self, schedule: Schedule, hhmm: str, now: datetime) -> None:
        """A `deadline` event (once per day) when a fire was due in the day before the
        last deadline and no run of the schedule succeeded in that day."""
        from jobctl.domain.cron import parse_cron
        from jobctl.domain.durations import iso_z
        from jobctl.domain.fires import fires_between

        name, tz, created_at = schedule.name, schedule.tz, schedule.created_at
        zone = ZoneInfo(tz)
        deadline = last_deadline(hhmm, zone, now)
        start = deadline - timedelta(days=1)
        if created_at is None or created_at > start:
            return
        due = fires_between(parse_cron(schedule.cron), zone, start, deadline)
        if next(iter(due), None) is None:
            return
        last = self.store.health.last_success(name)
        if last is not None and start < last <= deadline:
            return
        body = {
            "subject": f"schedule:{name}",
            "schedule": name,
            "queue": schedule.queue,
            "owner": schedule.owner,
            "severity": schedule.severity,
            "deadline": hhmm,
            "deadline_at": iso_z(deadline),
            "last_success_at": iso_z(last),
            "reason": f"no successful run by {hhmm} {tz}",
        }
        self.store.notify.record("deadline", now, body, dedup=f"deadline:{name}:{iso_z(deadline)}")

    def _log(self, event: str, level: str = "info", **fields: object) -> None:
        if self._daemon is not None:
            self._daemon.log.emit(self.clock.now(), event, level=level, **fields)


def notify_hooks(db_url: str, config: Config, clock: Clock) -> list[Hook]:
    """The delivery hook (it routes and prunes even without channels: events stay visible
    in `notify list` and are forgotten after a week) and the ping hook."""
    from jobctl.runtime.pings import PingHook

    return [NotifyHook(db_url, config, clock), PingHook()]
