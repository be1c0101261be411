"""The daemon: claims ready jobs, runs them, records outcomes, keeps leases alive.

One thread drives everything (`tick` + `executor.poll`); handler jobs run on a warm pool fed
by a local queue. Each tick is one store transaction (`dispatch.tick`): the outcomes
collected since the last one, the pids of the processes it spawned, and the next claims.
Tests drive `tick()` / `run_until_idle()` directly; `run()` is the service loop.
"""

from __future__ import annotations

import dataclasses
import os
import random
import socket
import uuid
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from jobctl import __version__
from jobctl.clock import Clock, ServerClock
from jobctl.config.model import Config
from jobctl.config.schedules import config_schedules
from jobctl.domain.job import Job
from jobctl.errors import JobctlError
from jobctl.runtime import outcomes
from jobctl.runtime.eventlog import EventLog
from jobctl.runtime.executor import AttemptResult, Executor
from jobctl.runtime.handlers import HandlerPool, HandlerResult
from jobctl.runtime.hooks import Hook
from jobctl.runtime.launch import LaunchContext, build_launch
from jobctl.runtime.logcap import OnDisk
from jobctl.runtime.nodewatch import NodeWatch
from jobctl.runtime.output import PUSH_INTERVAL, OutputKeeper, discard, leftover_write
from jobctl.runtime.reaper import Reaper
from jobctl.runtime.scheduler import Scheduler
from jobctl.runtime.systemd import Notifier
from jobctl.store.repos.daemons import DaemonInfo
from jobctl.store.repos.dispatch import Claim, Finish, Orphan, Spawn, Tick
from jobctl.store.repos.output import OutputWrite

if TYPE_CHECKING:
    from jobctl.store.protocol import Store

IDLE_POLL = 0.01  # seconds between cheap change checks while idle (the store's change feed)
WATCHED_POLL = 0.25  # the same, when the feed pushes wake-ups (inotify, LISTEN)
RESCAN = 1.0  # full claim attempt at least this often, whatever the change detector says
# After a spawn, the next tick (which records the pids) waits at most this long for exits to
# record with them: the pids are on record before the next spawn, and within this delay.
SPAWN_RECORD_WAIT = 0.002


@dataclass(frozen=True)
class DaemonOptions:
    node: str
    concurrency: int = 8
    queues: frozenset[str] | None = None
    lease: float = 30.0
    grace: float = 30.0
    kill_grace: float = 5.0
    burst: bool = False
    misfire_grace: float = 60.0  # a fire handled later than this was missed (misfire policy)
    boot_id: str | None = None  # this boot of the node (@reboot); None: the kernel's
    tags: frozenset[str] = frozenset()  # placement: jobs placed on one of these tags


@dataclass
class _Running:
    job: Job
    started: float  # monotonic


class Daemon:
    def __init__(
        self,
        store: Store,
        config: Config,
        options: DaemonOptions,
        clock: Clock,
        log: EventLog,
        launch: LaunchContext,
        notifier: Notifier | None = None,
        reload_config: Callable[[], Config] | None = None,
        rng: random.Random | None = None,
        hooks: list[Hook] | None = None,
    ) -> None:
        self.store, self.config, self.options, self.clock = store, config, options, clock
        self.log, self.launch_ctx = log, launch
        self.notifier = notifier or Notifier({})
        self.reload_config = reload_config
        self.rng = rng or random.Random()
        self.hooks = list(hooks or ())
        self._callbacks: dict[str, list[tuple[Hook, Callable[..., object]]]] = {}
        self.runner = f"{options.node}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.executor = Executor(clock.monotonic)
        self.feed = store.changes()
        self.idle_poll = IDLE_POLL
        self.rescan = min(RESCAN, self.feed.rescan or RESCAN)
        self.handlers = HandlerPool(options.concurrency, self.executor.wake)
        self.reaper = Reaper(
            store, log, self.rng, self.runner, options.node, options.kill_grace,
            runs=lambda job_id: job_id in self.running,
        )  # fmt: skip
        self.scheduler = Scheduler(
            store,
            clock,
            log,
            lambda: self.config,
            self.rng,
            timedelta(seconds=options.misfire_grace),
            options.boot_id,
            options.node,
        )
        self.node_watch = NodeWatch(store, log, options.node, options.tags)
        # Attempt output into the store (runtime/output.py), where the store keeps it
        self.output = OutputKeeper(store, self.executor.on_disk) if store.keeps_output else None
        self._spooled: dict[int, OnDisk] = {}  # ended attempts' files, removed after the finish
        self.running: dict[int, _Running] = {}
        self._terminating: dict[int, str] = {}  # job id -> "cancel" | "drain" | "node_drain"
        self._pending: list[Finish] = []  # collected, recorded by the next tick
        self._spawns: list[Spawn] = []  # recorded by the next tick, before its spawns
        self.reserved = 0  # gang members this daemon holds reserved (store/repos/gangs.py)
        self._dirty = True  # something may be claimable
        self._next_due: float | None = None
        self._last_rescan = self._last_beat = self._last_reap = float("-inf")
        self._last_push = float("-inf")
        self._last_watchdog = float("-inf")
        self.stopping = False
        self.reload_requested = False

    # --- lifecycle -----------------------------------------------------------------------
    @property
    def heartbeat_interval(self) -> float:
        return max(0.2, min(self.options.lease / 3, 10.0))

    def start(self) -> None:
        now = self.clock.now()
        self.store.daemons.register(
            DaemonInfo(
                id=self.runner,
                node=self.options.node,
                host=socket.gethostname(),
                pid=os.getpid(),
                version=__version__,
                queues=sorted(self.options.queues) if self.options.queues else None,
                started_at=now,
                heartbeat_at=now,
                heartbeat_interval=self.heartbeat_interval,
                concurrency=self.options.concurrency,
            )
        )
        self.node_watch.register(now, self.heartbeat_interval)
        if self.feed.start(self.executor.wake):
            self.idle_poll = WATCHED_POLL
        self.reaper.recover_orphans(now, self._orphan_output if self.output else None)
        self._store_leftover_output(now)
        self._reconcile_schedules(now)
        if self.scheduler.start(now):
            self._dirty = True
        self.log.emit(
            now,
            "daemon.started",
            node=self.options.node,
            pid=os.getpid(),
            concurrency=self.options.concurrency,
            runner=self.runner,
        )
        self._notify_hooks("on_start", self, now)
        self.notifier.ready(self._status_line())

    def run(self) -> None:
        """Serve until `stop()` (signal) or, in burst mode, until nothing is ready; then drain."""
        self.start()
        try:
            while not self.stopping:
                try:
                    self.tick()
                except JobctlError as exc:  # DB busy or unwritable: keep the jobs, retry
                    self.log.emit(self.clock.now(), "store.error", level="warning", error=str(exc))
                    self._collect(self.executor.poll(0.5))
                    continue
                if self.options.burst and self._idle():
                    break
                self._wait()
            self.drain()
        finally:
            self.close()

    def run_until_idle(self, max_ticks: int = 1_000_000) -> None:
        """Test harness (and --burst): tick until no job is ready or running."""
        for _ in range(max_ticks):
            self.tick()
            if self._idle():
                return
            self._wait()

    def stop(self) -> None:
        """Ask the loop to stop claiming and drain (safe from a signal handler)."""
        self.stopping = True
        self.executor.wake()

    def request_reload(self) -> None:
        self.reload_requested = True
        self.executor.wake()

    def drain(self) -> None:
        """Graceful stop: let running jobs finish within `grace`, then terminate the rest and
        put them back without spending their attempt."""
        self.notifier.stopping()
        self._release_reservations()
        deadline = self.clock.monotonic() + self.options.grace
        self.log.emit(self.clock.now(), "daemon.draining", running=len(self.running))
        while self.running and self.clock.monotonic() < deadline:
            self._collect(self.executor.poll(min(0.1, deadline - self.clock.monotonic())))
            self._collect(self.handlers.collect())  # handler jobs end within the grace too
            self._flush(self.clock.now())
        for key in list(self.running):
            self._terminating[key] = "drain"
        self._collect(self.executor.shutdown(self.options.kill_grace))
        self._collect(self.handlers.collect())
        self._flush(self.clock.now())
        now = self.clock.now()
        for job_id, entry in list(self.running.items()):  # handlers still on their threads
            self.store.dispatch.requeue(
                job_id,
                entry.job.attempts,
                self.runner,
                now,
                "daemon stopped before the job finished",
            )
            del self.running[job_id]

    def close(self) -> None:
        now = self.clock.now()
        try:
            self.store.daemons.stopped(self.runner, now)
            self.store.chores.release(self.runner)
        finally:
            self._notify_hooks("on_stop", now)
            self.feed.close()
            self.handlers.shutdown()
            self.executor.close()
            self.log.emit(now, "daemon.stopped", node=self.options.node)

    # --- one iteration -------------------------------------------------------------------
    def tick(self) -> None:
        with self.log.held():  # this tick's event lines in one write
            self._tick()

    def _tick(self) -> None:
        if self.reload_requested:
            self._reload()
        self._collect(self.handlers.collect())
        now = self.clock.now()
        self._maintain(now)
        claim = None
        if not self.stopping:
            if self.scheduler.tick(now):
                self._dirty = True
            if self.running and self.scheduler.take_replaced():
                self._cancel_requested()  # overlap replace: before the new run starts
            claim = self._claim_request(now)
        for job in self._commit(now, claim):
            self._launch(job, now)

    def _wait(self) -> None:
        """Sleep until output, an exit, a wake(), the next due job or fire, or the next cheap
        change check (only when a slot is free: a full daemon has nothing to claim)."""
        full = len(self.running) >= self.options.concurrency
        timeout = 0.2 if full else self.idle_poll
        if self._spawns:  # their pids go on record promptly (with the exits of that time)
            timeout = min(timeout, SPAWN_RECORD_WAIT)
        now = self.clock.now().timestamp()
        fire = self.scheduler.next_at()
        for due in (self._next_due, fire.timestamp() if fire else None):
            if due is not None:
                timeout = min(timeout, max(0.0, due - now))
        self._collect(self.executor.poll(timeout))

    def _idle(self) -> bool:
        return not self.running and not self._dirty and not self._pending and not self._spawns

    # --- claiming ------------------------------------------------------------------------
    def _claim_wanted(self, now: datetime) -> bool:
        """Whether to claim this tick: something changed (the change feed, read once per
        tick by `_maintain`), the rescan is due, or a job falls due."""
        mono = self.clock.monotonic()
        if mono - self._last_rescan >= self.rescan:
            self._dirty = True
        if self._next_due is not None and now.timestamp() >= self._next_due:
            self._dirty = True
        return self._dirty

    def _claim_request(self, now: datetime) -> Claim | None:
        """What this tick should claim: the free slots (counting those the pending finishes
        free), when something may be claimable; None: claim nothing."""
        if not self.config.enabled:  # `enabled: false`: stay up, claim nothing
            self._dirty = False
            return None
        if self._pending:
            self._dirty = True  # slots, ordering keys and dependants are being freed
        if self.node_watch.draining:  # reservations go; members started meanwhile come
            return self._claim(0, now) if self.reserved else None
        free = self.options.concurrency - len(self.running) + len(self._pending) - self.reserved
        if (free <= 0 and not self.reserved) or not self._claim_wanted(now):
            return None
        return self._claim(max(free, 0), now)

    def _claim(self, free: int, now: datetime) -> Claim:
        self._last_rescan = self.clock.monotonic()
        limits = {q.name: q.concurrency for q in self.config.queues if q.concurrency}
        rates = {q.name: rate for q in self.config.queues if (rate := q.rate)}
        return Claim(
            self.runner,
            self.options.node,
            free,
            self.options.lease,
            self.options.queues,
            limits,
            rates or None,
            self.options.tags,
            self.reserved,
        )

    def _release_reservations(self) -> None:
        """Give up reserved gang members (draining or stopping: they are not ours to run)."""
        if self.reserved:
            self.store.dispatch.release_reservations(self.runner)
            self.reserved = 0

    def _launch(self, job: Job, now: datetime) -> None:
        if self.node_watch.put_back:  # `node drain --now` came first: not started, put back
            self.store.dispatch.requeue(
                job.id,
                job.attempts,
                self.runner,
                now,
                "node drained (--now) before the job started",
            )
            return
        self.running[job.id] = _Running(job, self.clock.monotonic())
        self.log.emit(
            now,
            "job.started",
            job_id=job.id,
            queue=job.queue,
            attempt=job.attempts,
            request_id=job.request_id,
        )
        if self.hooks:
            self._notify_hooks("on_claimed", job, now)
        if job.handler:
            self.handlers.start(job.id, job.handler, job.payload, job.timeout)
            return
        launch = build_launch(job, self.launch_ctx, self.options.kill_grace)
        pid = self.executor.begin(job.id, launch)  # its start time: read when recorded
        if self.output is not None:
            self.output.watch(job.id, job.attempts)
        self._spawns.append(Spawn(job.id, job.attempts, pid, None, str(launch.log_path)))

    # --- outcomes ------------------------------------------------------------------------
    def _collect(self, results: Sequence[tuple[Hashable, AttemptResult | HandlerResult]]) -> None:
        now = self.clock.now()
        for key, result in results:
            entry = self.running.get(key) if isinstance(key, int) else None  # keyed by job id
            if entry is None:
                continue
            reason = self._terminating.pop(entry.job.id, None)
            if reason in ("drain", "node_drain"):
                why = "daemon stopped" if reason == "drain" else "node drained (--now)"
                given_back = self.store.dispatch.requeue(
                    entry.job.id,
                    entry.job.attempts,
                    self.runner,
                    now,
                    f"{why} before the job finished",
                )
                if reason == "node_drain":
                    self.log.emit(now, "job.put_back", job_id=entry.job.id,
                                  queue=entry.job.queue, attempt=entry.job.attempts,
                                  request_id=entry.job.request_id, reason=why)  # fmt: skip
                if isinstance(result, AttemptResult):
                    self._drained_output(entry.job.id, result.output_on_disk, given_back)
                del self.running[entry.job.id]
                continue
            if isinstance(result, AttemptResult):
                finish = outcomes.from_process(
                    entry.job,
                    result,
                    self.runner,
                    now,
                    self.rng,
                    self.config.non_retryable_exit_codes,
                )
                if self.output is not None:
                    finish = self._with_output(finish, result.output_on_disk)
            else:
                finish = outcomes.from_handler(
                    entry.job,
                    result,
                    self.runner,
                    now,
                    self.rng,
                    cancelled=reason == "cancel",
                )
            self._pending.append(finish)

    def _flush(self, now: datetime) -> None:
        """Record spawned processes and finished attempts (no claim) in one transaction."""
        self._commit(now, None)

    def _commit(self, now: datetime, claim: Claim | None) -> list[Job]:
        """This tick's transaction: the pending spawns and finishes, then `claim`. Returns
        the jobs claimed (to launch). On a store error nothing was applied: the spawns and
        finishes stay pending for the next tick."""
        if not self._pending and not self._spawns and claim is None:
            return []
        pending, self._pending = self._pending, []
        spawns, self._spawns = [self._started(s) for s in self._spawns], []
        try:
            result = self.store.dispatch.tick(pending, claim, now, spawns)
        except JobctlError:  # nothing was applied: try again next tick
            self._pending, self._spawns = pending + self._pending, spawns + self._spawns
            raise
        if self._spooled:  # their output is in the store now
            discard([self._spooled.pop(f.job_id) for f in pending if f.job_id in self._spooled])
        self._finished(pending, result, now)
        claimed = [job for job in result.claimed if job.id not in self.running]
        if claim is not None:
            self.reserved = result.reserved
            # a full batch: there may be more
            self._dirty = claim.slots > 0 and len(claimed) >= claim.slots
            if not self._dirty:
                self._next_due = result.next_due
        elif pending:
            self._dirty = True  # slots, ordering keys and dependants may have been freed
        return claimed

    def _started(self, spawn: Spawn) -> Spawn:
        """The spawn with its process's start time (read now, not at the spawn: the child
        is past its exec by then, and the read does not wait for it)."""
        if spawn.pid is None or spawn.pid_start is not None:
            return spawn
        return dataclasses.replace(spawn, pid_start=self.executor.pid_start(spawn.job_id))

    def _finished(self, pending: list[Finish], result: Tick, now: datetime) -> None:
        """Log the recorded (or discarded) finishes and free their slots."""
        applied = {id(f) for f in result.applied}
        for finish in pending:
            entry = self.running.pop(finish.job_id, None)
            if id(finish) not in applied:
                self.log.emit(
                    now,
                    "job.finish_discarded",
                    level="warning",
                    job_id=finish.job_id,
                    queue=entry.job.queue if entry else None,
                    attempt=finish.attempt,
                    request_id=entry.job.request_id if entry else None,
                    reason="the lease was lost: another daemon re-queued the job",
                )
                continue
            self.log.emit(
                now,
                f"job.{finish.decision.state.value}",
                job_id=finish.job_id,
                queue=entry.job.queue if entry else None,
                attempt=finish.attempt,
                exit_code=finish.exit_code,
                signal=finish.signal,
                failure_class=finish.decision.failure_class,
                duration=finish.duration,
                error=finish.error if finish.decision.failure_class else None,
                request_id=entry.job.request_id if entry else None,
            )
            if self.hooks and entry is not None:
                self._notify_hooks("on_finished", entry.job, finish, now)

    # --- attempt output in the store (store.keeps_output) ---------------------------------
    def _with_output(self, finish: Finish, disk: OnDisk) -> Finish:
        """The finish with the attempt's last output, stored in its transaction; the local
        files are removed once it commits."""
        assert self.output is not None
        last = self.output.final(finish.job_id, disk)
        if disk.parts:
            self._spooled[finish.job_id] = disk
        return finish if last is None else dataclasses.replace(finish, output=last)

    def _drained_output(self, job_id: int, disk: OnDisk, given_back: bool) -> None:
        """A drained attempt given back runs again from scratch (its stored output went with
        it): its files go. One no longer ours (another daemon ended it) keeps its output."""
        if self.output is None:
            return
        if given_back:
            self.output.forget(job_id, disk)
            return
        last = self.output.final(job_id, disk)
        if last is not None:
            self.store.output.write([last])
        discard([disk])

    def _push_output(self, now: datetime) -> None:
        """Running attempts' new output into the store (a failure waits for the next push)."""
        assert self.output is not None
        try:
            self.output.push()
        except JobctlError as exc:
            self.log.emit(now, "output.push_failed", level="warning", error=str(exc))

    def _orphan_output(self, orphan: Orphan) -> OutputWrite | None:
        """What a dead predecessor's attempt printed here, stored with its ending."""
        job = orphan.job
        return leftover_write(self.launch_ctx.log_dir, job.id, job.attempts, orphan.log_path)

    def _store_leftover_output(self, now: datetime) -> None:
        """Spool files of dead predecessors on this node (orphan recovery ended their
        attempts): into the store, then removed (runtime/output.py)."""
        if self.output is None:
            return
        try:
            stored = self.output.store_leftovers(self.launch_ctx.log_dir, self.options.node)
        except JobctlError as exc:
            self.log.emit(now, "output.leftovers_failed", level="warning", error=str(exc))
            return
        for job_id, attempt in stored:
            self.log.emit(now, "output.leftover_stored", job_id=job_id, attempt=attempt)

    # --- leases, heartbeats, cancels, expired leases -------------------------------------
    def _maintain(self, now: datetime) -> None:
        mono = self.clock.monotonic()
        if self.output is not None and mono - self._last_push >= PUSH_INTERVAL:
            self._last_push = mono
            self._push_output(now)
        if mono - self._last_beat >= self.heartbeat_interval:
            self._last_beat = mono
            offset = self.clock.offset if isinstance(self.clock, ServerClock) else 0.0
            self.store.daemons.heartbeat(self.runner, now, offset)
            self.store.nodes.heartbeat(self.options.node, now)
            until = now + timedelta(seconds=self.options.lease)
            self.store.dispatch.renew_leases(
                self.runner, list(self.running), until, reservations=self.reserved > 0
            )
            self.notifier.status(self._status_line())
        if self.notifier.watchdog_interval and mono - self._last_watchdog >= (
            self.notifier.watchdog_interval
        ):
            self._last_watchdog = mono
            self.notifier.watchdog()
        # The one read of the change feed per tick, for cancels and claims alike (a change
        # that lands later in the tick is seen by the next one: the feed wakes the loop).
        # Not needed with nothing running and a claim due anyway: the change stays unread.
        if (self.running or not self._dirty) and self._note_changes() and self.running:
            self._cancel_requested()
        if self.node_watch.check(now, mono):
            self._put_back_running()
        if mono - self._last_reap >= self.heartbeat_interval:
            self._last_reap = mono
            rescue = self.store.chores.hold("rescue", self.runner, now, 2 * self.heartbeat_interval)
            if rescue is not None and self.reaper.reap(now):  # one daemon per period rescues
                self._dirty = True

    def _put_back_running(self) -> None:
        """`node drain --now` / `node forget`: terminate running job processes and put their
        jobs back without spending the attempt (handlers finish: a thread cannot be stopped)."""
        for job_id, entry in list(self.running.items()):
            if job_id in self._terminating or entry.job.handler:
                continue
            self._terminating[job_id] = "node_drain"
            self.executor.cancel(job_id)

    def _note_changes(self) -> bool:
        """Whether another process changed the store since the last look (then, something
        may be claimable)."""
        if self.feed.changed():
            self._dirty = True
            return True
        return False

    def _cancel_requested(self) -> None:
        for job_id in self.store.dispatch.cancel_requested(self.runner):
            self._cancel(job_id)

    def _cancel(self, job_id: int) -> None:
        if job_id in self._terminating or any(f.job_id == job_id for f in self._pending):
            return  # being stopped already, or ended (its finish goes on record this tick)
        self._terminating[job_id] = "cancel"
        entry = self.running[job_id]
        self.log.emit(
            self.clock.now(),
            "job.cancelling",
            job_id=job_id,
            queue=entry.job.queue,
            attempt=entry.job.attempts,
            request_id=entry.job.request_id,
        )
        if entry.job.handler:
            return  # handler threads cannot be interrupted; the result is recorded cancelled
        self.executor.cancel(job_id)

    def _reload(self) -> None:
        self.reload_requested = False
        if self.reload_config is None:
            return
        now = self.clock.now()
        try:
            self.config = self.reload_config()
        except Exception as exc:  # a bad config must not take the daemon down
            self.log.emit(now, "config.reload_failed", level="error", error=str(exc))
            return
        self.log.emit(now, "config.reloaded", source=self.config.source)
        self._notify_hooks("on_reload", self.config, now)
        self._reconcile_schedules(now)
        self.scheduler.refresh(force=True)
        self._dirty = True

    def _reconcile_schedules(self, now: datetime) -> None:
        """Config-declared schedules are created, updated and removed to match the config."""
        try:
            counts = self.store.schedules.reconcile_config(
                config_schedules(self.config.schedules), now
            )
        except JobctlError as exc:
            self.log.emit(now, "schedules.reconcile_failed", level="error", error=str(exc))
            return
        if any(counts):
            created, updated, removed = counts
            self.log.emit(
                now, "schedules.reconciled", created=created, updated=updated, removed=removed
            )

    def _notify_hooks(self, event: str, *args: object) -> None:
        callbacks = self._callbacks.get(event)
        if callbacks is None:  # the hooks that do something on `event` (not Hook's no-op)
            base = getattr(Hook, event)
            callbacks = self._callbacks[event] = [
                (hook, method)
                for hook in self.hooks
                if getattr(method := getattr(hook, event), "__func__", None) is not base
            ]
        for hook, callback in callbacks:
            try:
                callback(*args)
            except Exception as exc:  # an observer must never take the daemon down
                self.log.emit(
                    self.clock.now(),
                    "hook.failed",
                    level="error",
                    hook=hook.name,
                    hook_event=event,
                    error=f"{type(exc).__name__}: {exc}",
                )

    def _status_line(self) -> str:
        """systemd STATUS=: this daemon's running jobs and the DB's queued (ready) ones."""
        ready: int | str
        try:
            ready = self.store.dispatch.ready_count(self.clock.now())
        except JobctlError:
            ready = "?"
        return f"running {len(self.running)}/{self.options.concurrency} jobs, {ready} queued"
