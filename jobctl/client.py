"""Client: the Python API over a jobctl database (the CLI and the tests use it)."""

from __future__ import annotations

import builtins
import os
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobctl.clock import utcnow
from jobctl.config.model import Config
from jobctl.config.resolve import EnqueueOptions, SpecBuilder, build_spec
from jobctl.domain.audit import AuditEntry
from jobctl.domain.job import TERMINAL, JobSpec
from jobctl.domain.queues import Backpressure
from jobctl.errors import InvalidInput, NotFound, Unavailable
from jobctl.paths import default_db_path, log_dir_for, node_dir_for, working_directory
from jobctl.store import db_path_from, open_store, shared_db_key
from jobctl.store.group_commit import GroupCommit

if TYPE_CHECKING:
    from jobctl.domain.job_record import Attempt, Job
    from jobctl.store.protocol import Store
    from jobctl.store.repos.gangs import Gang
    from jobctl.store.repos.jobs import CancelResult, Enqueued, Retried
    from jobctl.store.repos.stats import Status


FILE_READ = 1 << 16


@dataclass
class AttemptOutput:
    """One attempt's captured output, wherever it is. When the store holds any of it (a
    PostgreSQL store, whose daemons keep output there; or a SQLite one `db copy` filled),
    the store's chunks are the output, read from any host; else it is the log file at `path`
    on the host that ran the attempt (SQLite's one host). Bytes pass as they are."""

    store: Store
    job_id: int
    attempt: int
    path: Path | None  # the log file where the attempt ran (None: it printed nothing yet)
    _seq: int = -1  # the last stored chunk read (-1: none; the marker is chunk 0)
    _offset: int | None = None  # how far the file was read (None: not reading it)

    def chunks(self) -> Iterator[bytes]:
        """All of the output, in pieces (never all in memory); nothing when it printed
        nothing or its file is gone."""
        self._seq, self._offset = -1, None
        while data := self.read_new(ended=True):
            yield data

    def read_new(self, ended: bool) -> bytes:
        """The next bytes since the last call (at most a page of chunks or FILE_READ from the
        file: call again until empty). `ended`: the attempt has ended, so its output is
        complete (a store that keeps output gains it at the latest as the attempt ends:
        until then, nothing stored means nothing printed yet, not output in a file)."""
        if self._offset is None:
            page = self.store.output.chunks_after(self.job_id, self.attempt, self._seq)
            if page:
                self._seq = page[-1][0]
                return b"".join(data for _, data in page)
            if self._seq >= 0 or (self.store.keeps_output and not ended):
                return b""
            self._offset = 0  # nothing stored: the log file on this host
        return self._read_file()

    def _read_file(self) -> bytes:
        if self.path is None or self._offset is None:
            return b""
        try:
            with self.path.open("rb") as source:
                if source.seek(0, 2) < self._offset:  # compacted to its tail: start over
                    self._offset = 0
                source.seek(self._offset)
                data = source.read(FILE_READ)
        except FileNotFoundError:  # printed nothing (the log is created on the first byte)
            return b""
        self._offset += len(data)
        return data


class Client:
    """Enqueue and inspect jobs. `db` is a path or sqlite:/// URL (default: $JOBCTL_DB or
    the XDG/root default); `config` the effective config (default: none). With `create`
    False the client only reads: it opens an existing DB as it is, never creating or
    migrating it (see `open_store`).

    Threads may share a Client: each uses its own store (connection), and concurrent
    enqueues share one durable commit (store/group_commit.py)."""

    def __init__(
        self,
        db: str | os.PathLike[str] | None = None,
        config: Config | None = None,
        create: bool = True,
    ):
        self.config = config or Config()
        self.db_url = str(db or os.environ.get("JOBCTL_DB") or default_db_path())
        self.create = create
        self._local = threading.local()
        self._stores: list[Store] = []
        self._lock = threading.Lock()
        self.group_commit = GroupCommit(lambda: self.store)

    @property
    def store(self) -> Store:
        """The calling thread's store (opened on first use)."""
        store: Store | None = getattr(self._local, "store", None)
        if store is None:
            sync = "NORMAL" if self.config.durability == "fast" else "FULL"
            store = open_store(self.db_url, synchronous=sync, create=self.create)
            self._local.store = store
            with self._lock:
                self._stores.append(store)
        return store

    @property
    def log_dir(self) -> Path:
        if self.config.log_dir:
            return Path(self.config.log_dir)
        key = shared_db_key(self.db_url)
        if key is not None:  # a database shared by hosts: this host's own directory
            return node_dir_for(key) / "logs"
        return log_dir_for(db_path_from(self.db_url))

    def close(self) -> None:
        """Close every thread's store (a later use opens a new one)."""
        with self._lock:
            stores, self._stores = self._stores, []
            self._local = threading.local()
        for store in stores:
            store.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- enqueue -------------------------------------------------------------------------
    def enqueue(self, command: Sequence[str] | None = None, **options: Any) -> int:
        """Enqueue one job; returns its id (an existing live job's id for a held --key).
        Options are EnqueueOptions fields (job_type, payload, queue, run_at, cwd, ...). The
        job runs in `cwd` if given (relative: to this process's directory), else in its
        job type's `cwd:`, else in this process's working directory, as the CLI does."""
        options.setdefault("enqueued_from", working_directory())
        opts = EnqueueOptions(command=list(command) if command else None, **options)
        return self.enqueue_specs([build_spec(opts, self.config)])[0].id

    def enqueue_options(
        self, options: Sequence[EnqueueOptions], audit: AuditEntry | None = None
    ) -> list[Enqueued]:
        """Validate every option set first, then enqueue all in one transaction."""
        build = SpecBuilder(self.config)
        return self.enqueue_specs([build(o) for o in options], audit=audit)

    def enqueue_specs(
        self,
        specs: Sequence[JobSpec],
        now: datetime | None = None,
        audit: AuditEntry | None = None,
    ) -> list[Enqueued]:
        """Enqueue validated specs in one transaction, applying each configured queue's
        backpressure (max_depth + shed): a `reject` queue at its limit is Unavailable.
        `audit`, when given, is recorded in the same transaction if a job was created.
        Returns once the commit holding them is durable; concurrent calls from other
        threads share that commit (group commit)."""
        if not specs:
            return []
        self.store  # noqa: B018  opened first: `now` (created_at) is the enqueue's, not the connect's
        now = now or utcnow()
        for spec in specs:
            if spec.gang_size is not None:
                self._check_gang_room(spec, now)
        return self.group_commit.enqueue(specs, now, self.backpressure, audit)

    def _check_gang_room(self, spec: JobSpec, now: datetime) -> None:
        """A gang larger than the slots of the live nodes its placement allows can never
        start: InvalidInput naming the capacity. With no live node it waits for one."""
        from jobctl.domain.placement import Placement

        where = Placement(spec.on_node, spec.on_tag)
        room = self.store.gangs.capacity(now, where)
        size = spec.gang_size or 0
        if room.nodes and size > room.slots:
            on = "" if not where else f" ({where.describe()})"
            raise InvalidInput(
                f"--gang {size}: larger than the cluster's capacity of {room.slots}"
                f" slots on {room.nodes} live node{'s' if room.nodes != 1 else ''}{on}"
            )

    def gang(self, gang_id: int) -> Gang:
        """A gang with its members and where each ran; NotFound when unknown."""
        found = self.store.gangs.get(gang_id)
        if found is None:
            raise NotFound(f"no gang with id {gang_id}")
        return found

    @property
    def backpressure(self) -> dict[str, Backpressure]:
        """Depth guards of the configured queues that have a max_depth."""
        return {q.name: q.backpressure for q in self.config.queues if q.backpressure}

    # --- reading -------------------------------------------------------------------------
    def get(self, job_id: int) -> Job:
        return self.store.jobs.get(job_id)

    def attempts(self, job_id: int) -> list[Attempt]:
        return self.store.jobs.attempts(job_id)

    def list(
        self,
        states: Iterable[str] = (),
        queue: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[Job]:
        return self.store.jobs.list(utcnow(), states, queue, since, limit)

    def output(self, job_id: int, attempt: int | None = None) -> AttemptOutput:
        """The captured output of an attempt (default: the latest), from any host: what the
        store keeps of it, else the log file on this host (see AttemptOutput). NotFound
        when the job has not run yet, has no such attempt, or the attempt captures no output
        (a handler job's, or one whose process is not started yet)."""
        chosen = self._attempt(job_id, attempt)
        if not chosen.log_path and not self.store.output.chunks_after(
            job_id, chosen.attempt, -1, 1
        ):
            raise NotFound(f"job {job_id} attempt {chosen.attempt} captured no output")
        path = Path(chosen.log_path) if chosen.log_path else None
        return AttemptOutput(self.store, job_id, chosen.attempt, path)

    def log_path(self, job_id: int, attempt: int | None = None) -> Path:
        """The captured output file of an attempt (default: the latest) on the host that ran
        it (on PostgreSQL only until its output is in the store: read `output()` instead)."""
        chosen = self._attempt(job_id, attempt)
        if not chosen.log_path:
            raise NotFound(f"job {job_id} attempt {chosen.attempt} captured no output")
        return Path(chosen.log_path)

    def _attempt(self, job_id: int, attempt: int | None) -> Attempt:
        attempts = self.attempts(job_id)
        if not attempts:
            raise NotFound(f"job {job_id} has not run yet: no output")
        chosen = (
            attempts[-1]
            if attempt is None
            else next((a for a in attempts if a.attempt == attempt), None)
        )
        if chosen is None:
            raise NotFound(f"job {job_id} has no attempt {attempt} (it has {len(attempts)})")
        return chosen

    def status(self) -> Status:
        from jobctl.domain.percentile import p95
        from jobctl.store.repos.stats import QueueFigures, QueueStatus, Status

        now = utcnow()
        figures = self.store.stats.queue_figures(now)
        paused = self.store.queues.paused()
        names = set(figures) | paused | {q.name for q in self.config.queues} | {"default"}
        rows = []
        for name in sorted(names):
            f = figures.get(name) or QueueFigures(name)
            queue_config = self.config.queue(name)
            lag = now.timestamp() - f.oldest_ready_at if f.oldest_ready_at is not None else 0.0
            rows.append(
                QueueStatus(
                    queue=name,
                    ready=f.ready,
                    scheduled=f.scheduled,
                    running=f.running,
                    retrying=f.retrying,
                    waiting=f.waiting,
                    failed_24h=f.failed_24h,
                    dead=f.dead,
                    lag_seconds=round(max(0.0, lag), 3),
                    p95_wait_seconds=p95(f.waits),
                    paused=name in paused,
                    concurrency=queue_config.concurrency if queue_config else None,
                )
            )
        nodes = self.store.nodes.list(now)
        return Status(rows, self.store.daemons.live(now), self.config.enabled, nodes)

    # --- acting --------------------------------------------------------------------------
    def cancel(
        self, ids: Sequence[int], reason: str = "cancelled by operator"
    ) -> builtins.list[CancelResult]:
        return self.store.jobs.cancel(list(ids), utcnow(), reason)

    def retry(self, ids: Sequence[int], request_id: str | None = None) -> builtins.list[Retried]:
        """Run the jobs again now with a fresh attempt budget; each result says whether it
        was retried or why it was skipped (its key is held by a live job)."""
        return self.store.jobs.retry(list(ids), utcnow(), request_id)

    def ids_in_state(self, states: Iterable[str], queue: str | None = None) -> builtins.list[int]:
        return self.store.jobs.ids_in_state(states, queue)

    def pause_queue(self, name: str, paused: bool = True) -> None:
        if not self.config.knows_queue(name):
            raise InvalidInput(f"unknown queue {name!r}")
        self.store.queues.set_paused(name, paused, utcnow())

    def purge_queue(self, name: str) -> int:
        if not self.config.knows_queue(name):
            raise InvalidInput(f"unknown queue {name!r}")
        return self.store.jobs.purge_queue(name, utcnow())

    def set_checkpoint(self, job_id: int, value: str) -> None:
        self.store.jobs.set_checkpoint(job_id, value)

    def wait(
        self, ids: Sequence[int], timeout: float | None = None, poll: float = 0.05
    ) -> builtins.list[Job]:
        """Block until every job is terminal (a gang member's whole gang: its members are
        returned too); Unavailable when `timeout` passes first. Looks at the store's change
        feed (cheap) and re-reads only when the DB changed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        pending = list(dict.fromkeys(ids))
        for job_id in list(pending):
            job = self.get(job_id)  # NotFound early
            if job.gang_id is not None:  # a gang ends as one: a member may end before it
                members = [m.job_id for m in self.gang(job.gang_id).members]
                pending += [m for m in members if m not in pending]
        feed = self.store.changes()
        while True:
            if feed.changed():
                jobs = [self.get(i) for i in pending]
                if all(j.state in TERMINAL for j in jobs):
                    return jobs
            if deadline is not None and time.monotonic() >= deadline:
                waiting = [str(j.id) for j in jobs if j.state not in TERMINAL]
                raise Unavailable(f"timed out waiting for job(s) {', '.join(waiting)}")
            time.sleep(poll)
