"""Running the daemon as a service: single-instance lock per node, signals, wiring."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
from collections.abc import Callable
from pathlib import Path

from jobctl.clock import ServerClock, SystemClock
from jobctl.config.model import Config
from jobctl.errors import Unavailable
from jobctl.paths import file_mode, make_dirs, node_dir_for
from jobctl.runtime.daemon import Daemon, DaemonOptions
from jobctl.runtime.eventlog import EventLog
from jobctl.runtime.hooks import Hook
from jobctl.runtime.launch import LaunchContext, daemon_base_env
from jobctl.runtime.notify import notify_hooks
from jobctl.runtime.retention import retention_hooks
from jobctl.runtime.systemd import Notifier
from jobctl.store import db_path_from, open_store, shared_db_key


def default_node() -> str:
    return os.environ.get("JOBCTL_NODE") or socket.gethostname()


class InstanceLock:
    """One daemon per DB per node: an flock on `<base>.<node>.lock` (SQLite: beside the DB
    file; PostgreSQL: in this host's own directory for that database, see
    paths.node_dir_for); the holder's pid is kept beside it so a second daemon can name it."""

    def __init__(self, base: Path, node: str) -> None:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in node)
        self.path = base.with_name(f"{base.name}.{safe}.lock")
        self.pid_path = self.path.with_suffix(".pid")
        self._fd: int | None = None

    def acquire(self) -> None:
        make_dirs(self.path.parent)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, file_mode())  # close-on-exec
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = self._holder()
            raise Unavailable(
                f"a daemon is already running for this DB on node {self.path.suffixes[-2][1:]!r}"
                f" (pid {holder})"
                if holder
                else "a daemon is already running for this DB"
            ) from None
        self._fd = fd
        pid_fd = os.open(self.pid_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, file_mode())
        with os.fdopen(pid_fd, "w") as pid_file:
            pid_file.write(f"{os.getpid()}\n")

    def _holder(self) -> str | None:
        try:
            return self.pid_path.read_text().strip() or None
        except OSError:
            return None

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                self.pid_path.unlink()
            os.close(self._fd)  # drops the flock
            self._fd = None


def build_hooks(db_url: str, config: Config, options: DaemonOptions) -> list[Hook]:
    """The observers a served daemon runs with (metrics, HTTP, retention, ...): each
    decides from the config and options whether it is wanted."""
    hooks: list[Hook] = []
    if config.daemon.http:  # imported only then: prometheus-client stays off other paths
        from jobctl.runtime.http.hook import http_hooks

        hooks += http_hooks(db_url, config, options.node, options.tags)
    hooks += retention_hooks(db_url, config, SystemClock())  # history retention (sweeps)
    hooks += notify_hooks(db_url, config, SystemClock())  # notification delivery, pings
    if config.kafka.sample_interval:  # kafka lag samples; confluent-kafka loads only then
        from jobctl.runtime.kafka_sampler import kafka_hooks

        hooks += kafka_hooks(db_url, config, SystemClock())
    return hooks


def serve(
    db_url: str,
    config: Config,
    options: DaemonOptions,
    log_format: str,
    log_dir: Path,
    reload_config: Callable[[], Config],
) -> None:
    """Run the daemon in the foreground until SIGTERM/SIGINT (or burst idle); exit 0."""
    key = shared_db_key(db_url)
    lock = InstanceLock(
        db_path_from(db_url) if key is None else node_dir_for(key) / "daemon", options.node
    )
    lock.acquire()
    job_db = str(db_path_from(db_url)) if key is None else db_url  # JOBCTL_DB for the jobs
    store = open_store(db_url, synchronous="NORMAL")
    try:
        # Several hosts share a server: leases, heartbeats and fires use its clock.
        clock = SystemClock() if key is None else ServerClock(store.now)
        daemon = Daemon(
            store,
            config,
            options,
            clock,
            EventLog(log_format, node=options.node),
            LaunchContext(job_db, options.node, log_dir, config.log_cap, daemon_base_env()),
            Notifier(),
            reload_config,
            hooks=build_hooks(db_url, config, options),
        )
        signal.signal(signal.SIGTERM, lambda *_: daemon.stop())
        signal.signal(signal.SIGINT, lambda *_: daemon.stop())
        signal.signal(signal.SIGHUP, lambda *_: daemon.request_reload())
        daemon.run()
    finally:
        store.close()
        lock.release()
