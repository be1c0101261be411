"""Attempt output into the store, on a store that keeps it (`store.keeps_output`: PostgreSQL,
whose hosts must all read any attempt's output). The attempt's log file (runtime/logcap.py)
is the spool; the daemon drives an OutputKeeper from its one thread:

- While attempts run, `push()` (about once a second, never per byte) appends what each log
  gained since the last push as chunks, all attempts in one transaction. What the log's cap
  dropped (a rotation) is dropped from the store too, whole chunks (a chunk never spans two
  parts of the log), so the store never holds more than the attempt's log cap.
- When an attempt ends, `final()` gives the rest of its output (and the line saying how many
  bytes the cap dropped) as an OutputWrite that its finish stores in the same transaction
  (dispatch.finish); once that commits, `discard()` removes the local files.
- A crash before that commit leaves the attempt running in the store and its spool files on
  the node: the next daemon there ends the orphan and re-queues its job (orphan recovery),
  storing the spool's bytes (`leftover_write()`) with the attempt's ending, in place of what
  was pushed: nobody sees the attempt ended without its output. Then `store_leftovers()`
  stores each spool file a predecessor left that is not stored yet (an attempt another
  node's daemon ended when its lease expired), and removes it. A crash after the commit and
  before the removal loses nothing: `store_leftovers()` finds the bytes stored already and
  only removes the file.
- An attempt that printed nothing has no file: nothing is read, written or removed.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from jobctl.runtime.logcap import OnDisk
from jobctl.store import Store
from jobctl.store.repos.output import OutputWrite, chunked

PUSH_INTERVAL = 1.0  # seconds between pushes of running attempts' new output
_SPOOL_NAME = re.compile(r"(\d+)\.(\d+)\.log(\.1|\.tmp)?")


@dataclass
class _Kept:
    """What one attempt has in the store: stream bytes [first part kept, `sent`)."""

    job_id: int
    attempt: int
    sent: int = 0  # stream offset (logcap.OnDisk) stored up to
    next_seq: int = 1
    parts: list[tuple[int, int]] = field(default_factory=list)  # (part's stream start, 1st seq)


def _read(path: Path, offset: int, size: int) -> bytes:
    try:
        with path.open("rb") as source:
            source.seek(offset)
            return source.read(size)
    except FileNotFoundError:
        return b""


def gain(kept: _Kept, disk: OnDisk, final: bool) -> tuple[OutputWrite, _Kept] | None:
    """What the store must gain for the output on disk to be in it (None: nothing), and the
    attempt's state once that write commits. `final`: the log is closed (its marker goes in)."""
    if not disk.parts:
        return None
    kept_from = disk.parts[0].start  # the cap dropped what came before
    sent, seq = max(kept.sent, kept_from), kept.next_seq
    gone = [fs for start, fs in kept.parts if start < kept_from]
    parts = [p for p in kept.parts if p[0] >= kept_from]
    drop_before = min((fs for _, fs in parts), default=seq) if gone else 0
    chunks: list[tuple[int, bytes]] = []
    for part in disk.parts:
        if part.end <= sent:
            continue
        begin = max(sent, part.start)
        if begin == part.start:
            parts.append((part.start, seq))
        data = _read(part.path, part.offset + begin - part.start, part.end - begin)
        added = chunked(data, seq)
        chunks += added
        seq, sent = seq + len(added), begin + len(data)
        if begin + len(data) < part.end:  # the file is shorter than the log says: stop here
            break
    marker = disk.marker if final and disk.marker else None
    if not chunks and not drop_before and marker is None:
        return None
    write = OutputWrite(kept.job_id, kept.attempt, tuple(chunks), drop_before, marker)
    return write, _Kept(kept.job_id, kept.attempt, sent, seq, parts)


class OutputKeeper:
    """The daemon's side of attempt output in the store (see the module docstring).
    `on_disk(job_id)` says where a running attempt's output is (Executor.on_disk)."""

    def __init__(self, store: Store, on_disk: Callable[[int], OnDisk | None]) -> None:
        self.store = store
        self.on_disk = on_disk
        self._kept: dict[int, _Kept] = {}

    def watch(self, job_id: int, attempt: int) -> None:
        """Keep this attempt's output from now on (no I/O until it prints)."""
        self._kept[job_id] = _Kept(job_id, attempt)

    def push(self) -> int:
        """Store what the running attempts printed since the last push, in one transaction;
        the bytes stored. A failed write (JobctlError) is tried again by the next push."""
        pending: list[tuple[OutputWrite, _Kept]] = []
        for job_id, kept in self._kept.items():
            disk = self.on_disk(job_id)
            if disk is not None and (found := gain(kept, disk, final=False)) is not None:
                pending.append(found)
        if not pending:
            return 0
        self.store.output.write([w for w, _ in pending])
        for _, after in pending:
            if after.job_id in self._kept:
                self._kept[after.job_id] = after
        return sum(len(d) for w, _ in pending for _, d in w.chunks)

    def final(self, job_id: int, disk: OnDisk) -> OutputWrite | None:
        """The ended attempt's last write (its finish stores it), from its closed log; the
        attempt is no longer watched. None when there is nothing left to store."""
        kept = self._kept.pop(job_id, None)
        if kept is None:
            return None
        found = gain(kept, disk, final=True)
        return None if found is None else found[0]

    def forget(self, job_id: int, disk: OnDisk | None) -> None:
        """Stop keeping an attempt that is given back (its stored output is deleted with it):
        its files go too."""
        self._kept.pop(job_id, None)
        if disk is not None:
            discard([disk])

    def store_leftovers(self, log_dir: Path, node: str) -> list[tuple[int, int]]:
        """Store every spool file under `log_dir` that a dead predecessor on `node` left (an
        attempt of this node that has ended, its file named as the attempt's log on record),
        replacing what was pushed of it unless the store holds as many bytes, then remove it.
        Files of other nodes or unknown attempts are left alone. The attempts stored."""
        done = []
        for (job_id, attempt), files in sorted(_spool_files(log_dir).items()):
            base = files[""]
            record = next(
                (a for a in self.store.jobs.attempts(job_id) if a.attempt == attempt), None
            )
            if record is None or record.node != node or record.finished_at is None:
                continue
            if record.log_path != str(base):
                continue
            data = _spooled(base)
            if self.store.output.total_bytes(job_id, attempt) != len(data):
                self.store.output.replace(job_id, attempt, data)
            for path in files.values():
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            done.append((job_id, attempt))
        return done


def leftover_write(
    log_dir: Path, job_id: int, attempt: int, log_path: str | None
) -> OutputWrite | None:
    """The spool a dead predecessor left of this attempt (its log on record, under
    `log_dir`) as the write that makes it all of the attempt's stored output, for orphan
    recovery to store with the attempt's ending; None when it left none."""
    if log_path is None:
        return None
    base = Path(log_path)
    match = _SPOOL_NAME.fullmatch(base.name)
    if base.parent.parent != log_dir or not match or match[3]:
        return None
    if (int(match[1]), int(match[2])) != (job_id, attempt):
        return None
    data = _spooled(base)
    return OutputWrite(job_id, attempt, chunked(data, 1), replace=True) if data else None


def _spooled(base: Path) -> bytes:
    """All a spool holds: its older part (".1"), then the log itself."""
    return _read(base.with_name(base.name + ".1"), 0, -1) + _read(base, 0, -1)


def discard(disks: Iterable[OnDisk]) -> None:
    """Remove the log files of ended attempts whose output is in the store."""
    for disk in disks:
        for part in disk.parts:
            with contextlib.suppress(FileNotFoundError):
                part.path.unlink()


def _spool_files(log_dir: Path) -> dict[tuple[int, int], dict[str, Path]]:
    """(job id, attempt) → its files by suffix ("" the log, ".1" its older part, ".tmp")
    under log_dir/NNNNNN/ (launch.log_path); only attempts whose log itself is there."""
    found: dict[tuple[int, int], dict[str, Path]] = {}
    try:
        shards = [e for e in os.scandir(log_dir) if e.name.isdigit() and e.is_dir()]
    except FileNotFoundError:
        return found
    for shard in shards:
        for entry in os.scandir(shard.path):
            match = _SPOOL_NAME.fullmatch(entry.name)
            if match and entry.is_file():
                key = (int(match[1]), int(match[2]))
                found.setdefault(key, {})[match[3] or ""] = Path(entry.path)
    return {key: files for key, files in found.items() if "" in files}
