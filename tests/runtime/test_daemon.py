"""The daemon driven tick by tick with a manual clock (leases, reaper, reload, systemd)."""

from __future__ import annotations

import io
import random
import socket
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from jobctl.config.model import Config, QueueConfig
from jobctl.domain.job import State
from jobctl.domain.job_record import Job
from jobctl.domain.retry import RetryPolicy
from jobctl.runtime.daemon import Daemon, DaemonOptions
from jobctl.runtime.eventlog import EventLog
from jobctl.runtime.hooks import Hook
from jobctl.runtime.launch import LaunchContext
from jobctl.runtime.systemd import Notifier
from jobctl.store import Store
from jobctl.store.repos.dispatch import Finish
from tests.support.clock import ManualClock
from tests.support.factories import claim, job_spec


def make_daemon(
    store: Store,
    clock: ManualClock,
    tmp_path: Path,
    config: Config | None = None,
    notifier: Notifier | None = None,
    **options: object,
) -> Daemon:
    opts = DaemonOptions(node="test-node", **options)  # type: ignore[arg-type]
    ctx = LaunchContext(
        store.url, "test-node", tmp_path / "logs", 1 << 20, {"PATH": "/bin:/usr/bin"}
    )
    return Daemon(
        store,
        config or Config(),
        opts,
        clock,
        EventLog("logfmt", io.StringIO()),
        ctx,
        notifier,
        rng=random.Random(1),
    )


@pytest.fixture
def daemon(store: Store, clock: ManualClock, tmp_path: Path) -> Iterator[Daemon]:
    d = make_daemon(store, clock, tmp_path, lease=30.0)
    d.start()
    yield d
    d.drain()
    d.close()


def test_runs_ready_jobs_until_idle(store: Store, daemon: Daemon, clock: ManualClock) -> None:
    ids = [
        e.id
        for e in store.jobs.enqueue(
            [job_spec(["true"]), job_spec(["false"], retry=RetryPolicy(max_attempts=1))],
            clock.now(),
        )
    ]
    daemon.run_until_idle()
    assert [store.jobs.get(i).state for i in ids] == [State.SUCCEEDED, State.DEAD]


def test_expired_lease_of_a_dead_runner_is_requeued_as_lost(
    store: Store, daemon: Daemon, clock: ManualClock
) -> None:
    # Given a job claimed by a runner that then died (it never renews its lease)
    job_id = store.jobs.enqueue([job_spec()], clock.now())[0].id
    store.dispatch.claim(claim(runner="gone:1:x", lease=30), clock.now())
    # When the lease has not expired yet, nothing happens
    clock.advance(20)
    daemon.tick()
    assert store.jobs.get(job_id).state is State.RUNNING
    # When it has expired, any daemon re-queues it as lost (one attempt spent)
    clock.advance(11)
    daemon.tick()
    job = store.jobs.get(job_id)
    assert (job.state, job.failure_class, job.attempts) == (State.RETRYING, "lost", 1)
    # And it runs again once due
    clock.advance(job.retry.max + 1)
    daemon.run_until_idle()
    job = store.jobs.get(job_id)
    assert (job.state, job.attempts) == (State.SUCCEEDED, 2)
    assert [a.failure_class for a in store.jobs.attempts(job_id)] == ["lost", None]


def test_a_claim_the_daemon_never_learned_of_is_requeued_when_its_lease_expires(
    store: Store, daemon: Daemon, clock: ManualClock
) -> None:
    # Given a job claimed for this very daemon in a transaction whose COMMIT landed although
    # the daemon saw it fail (its connection died in COMMIT): the daemon does not run it
    job_id = store.jobs.enqueue([job_spec()], clock.now())[0].id
    store.dispatch.claim(claim(runner=daemon.runner, lease=30), clock.now())
    assert job_id not in daemon.running
    # When its lease has expired, it is re-queued as lost, even by the daemon it names
    clock.advance(31)
    daemon.tick()
    job = store.jobs.get(job_id)
    assert (job.state, job.failure_class) == (State.RETRYING, "lost")
    clock.advance(job.retry.max + 1)
    daemon.run_until_idle()
    assert store.jobs.get(job_id).state is State.SUCCEEDED


def test_lost_with_no_attempts_left_is_dead(
    store: Store, daemon: Daemon, clock: ManualClock
) -> None:
    job_id = store.jobs.enqueue([job_spec(retry=RetryPolicy(max_attempts=1))], clock.now())[0].id
    store.dispatch.claim(claim(runner="gone:1:x", lease=30), clock.now())
    clock.advance(31)
    daemon.tick()
    job = store.jobs.get(job_id)
    assert (job.state, job.failure_class) == (State.DEAD, "lost")
    assert store.dlq.get(job.dlq_id).failure_class == "lost"  # type: ignore[arg-type]


def test_cancel_requested_of_a_dead_runner_ends_cancelled(
    store: Store, daemon: Daemon, clock: ManualClock
) -> None:
    job_id = store.jobs.enqueue([job_spec()], clock.now())[0].id
    store.dispatch.claim(claim(runner="gone:1:x", lease=30), clock.now())
    store.jobs.cancel([job_id], clock.now(), "op")
    clock.advance(31)
    daemon.tick()
    assert store.jobs.get(job_id).state is State.CANCELLED


def test_own_running_jobs_keep_their_lease(
    store: Store, daemon: Daemon, clock: ManualClock, tmp_path: Path
) -> None:
    flag = tmp_path / "release"
    job_id = store.jobs.enqueue(
        [job_spec(["sh", "-c", f"while [ ! -e {flag} ]; do sleep 0.02; done"])], clock.now()
    )[0].id
    daemon.tick()
    for _ in range(4):  # 4 x 20 s: far past one 30 s lease, renewed by heartbeats
        clock.advance(20)
        daemon.tick()
        assert store.jobs.get(job_id).state is State.RUNNING
    flag.touch()
    daemon.run_until_idle()
    assert store.jobs.get(job_id).state is State.SUCCEEDED


def test_queue_concurrency_from_config(store: Store, clock: ManualClock, tmp_path: Path) -> None:
    config = Config(queues=(QueueConfig("slow", concurrency=1),))
    d = make_daemon(store, clock, tmp_path, config, concurrency=4, grace=0.0, kill_grace=1.0)
    d.start()
    store.jobs.enqueue([job_spec(["sleep", "5"], queue="slow") for _ in range(3)], clock.now())
    d.tick()
    assert store.stats.running_in_queue("slow") == 1
    d.drain()
    d.close()


def test_reload_swaps_config_and_a_bad_one_is_logged(
    store: Store, clock: ManualClock, tmp_path: Path
) -> None:
    configs = [Config(queues=(QueueConfig("q", concurrency=2),))]

    def reload() -> Config:
        if not configs:
            raise ValueError("broken config")
        return configs.pop()

    d = make_daemon(store, clock, tmp_path)
    d.reload_config = reload
    d.request_reload()
    d.tick()
    assert d.config.queue("q") is not None
    d.request_reload()
    d.tick()
    assert d.config.queue("q") is not None, "a failed reload keeps the running config"
    assert "config.reload_failed" in d.log.stream.getvalue()  # type: ignore[attr-defined]
    d.close()


def test_sd_notify_ready_watchdog_stopping(
    store: Store, clock: ManualClock, tmp_path: Path
) -> None:
    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        sock.settimeout(5)
        notifier = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"})
        d = make_daemon(store, clock, tmp_path, notifier=notifier)
        d.start()
        ready = sock.recv(4096).decode()
        assert "READY=1" in ready.splitlines() and "STATUS=running 0/8 jobs, 0 queued" in ready
        d.tick()
        seen = [sock.recv(4096).decode() for _ in range(2)]
        assert any("WATCHDOG=1" in m for m in seen)
        d.drain()
        assert any("STOPPING=1" in sock.recv(4096).decode() for _ in range(2))
        d.close()


def test_notifier_is_a_no_op_without_a_socket() -> None:
    notifier = Notifier({})
    assert not notifier.enabled and notifier.send("READY=1") is False
    assert Notifier({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "1"}).watchdog_interval is None
    assert Notifier({"WATCHDOG_USEC": "²"}).watchdog_interval is None


def test_disabled_by_config_the_daemon_stays_up_and_claims_nothing(
    store: Store, clock: ManualClock, tmp_path: Path
) -> None:
    # Given `enabled: false` and a ready job
    job_id = store.jobs.enqueue([job_spec(["true"])], clock.now())[0].id
    daemon = make_daemon(store, clock, tmp_path, Config(enabled=False))
    daemon.start()
    try:
        # When the daemon runs (as --burst would: it returns, nothing is claimable)
        daemon.run_until_idle(max_ticks=50)
        # Then the job is still queued and no attempt was made
        assert store.jobs.get(job_id).state is State.QUEUED and daemon.running == {}
        # When the config is reloaded with `enabled: true`, the job runs
        daemon.reload_config = Config
        daemon.request_reload()
        daemon.run_until_idle()
        assert store.jobs.get(job_id).state is State.SUCCEEDED
    finally:
        daemon.drain()
        daemon.close()


class _Recording(Hook):
    name = "recording"

    def __init__(self, seen: list[str]) -> None:
        self.seen = seen

    def on_claimed(self, job: Job, now: datetime) -> None:
        self.seen.append(f"claimed {job.id}")


class _Failing(Hook):
    name = "failing"

    def on_finished(self, job: Job, finish: Finish, now: datetime) -> None:
        raise RuntimeError("observer broke")


def test_each_hook_hears_what_it_overrides_and_a_failing_one_is_logged(
    store: Store, clock: ManualClock, tmp_path: Path
) -> None:
    """Hooks are called for the events they define (a subclass's method or one set on the
    instance), the no-op base ones are skipped, and a raising hook is logged, not fatal."""
    seen: list[str] = []
    plain = Hook()  # overrides nothing
    instance = Hook()
    instance.on_finished = lambda job, finish, now: seen.append(f"finished {job.id}")  # type: ignore[method-assign]
    daemon = make_daemon(store, clock, tmp_path)
    daemon.hooks = [plain, _Recording(seen), _Failing(), instance]
    stream = io.StringIO()
    daemon.log = EventLog("logfmt", stream)
    job_id = store.jobs.enqueue([job_spec(["true"])], clock.now())[0].id
    try:
        daemon.start()
        daemon.run_until_idle()
    finally:
        daemon.close()
    assert seen == [f"claimed {job_id}", f"finished {job_id}"]
    assert store.jobs.get(job_id).state is State.SUCCEEDED
    assert "event=hook.failed" in stream.getvalue() and "hook=failing" in stream.getvalue()
