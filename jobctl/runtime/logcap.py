"""One attempt's output log: bytes as produced, the tail kept, disk and memory bounded.

The log is written to `path` until it holds cap/2 bytes, then moved to `path.1` (replacing the
previous one) and started afresh, so at most `cap` bytes are on disk. On close, if output was
rotated, `path` becomes `path.1` and the current part joined, after a one-line marker saying how
many bytes were dropped (if any were). The file is created on the first byte: an attempt that
prints nothing costs no file (creating one is a measurable share of a short job's cost).

`on_disk()` says where each byte still on disk is, in *stream offsets* (the bytes offered, in
order, jobctl's own notes included): what a reader that copies the output elsewhere while it
is written (runtime/output.py) needs to carry on after a rotation or the final join.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from jobctl.paths import file_mode, make_dirs

TAIL_BYTES = 4096
MARKER = "[jobctl: {} bytes of earlier output dropped]\n"
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
_MODE = file_mode(0o640)  # job output may hold secrets: never world-readable, root-only as root


def _open(path: Path) -> int:
    try:
        return os.open(path, _FLAGS, _MODE)
    except FileNotFoundError:
        make_dirs(path.parent)  # as root 0700: a job run as another user reads no log
        return os.open(path, _FLAGS, _MODE)


@dataclass(frozen=True)
class Part:
    """Stream bytes [start, end) of the output, in `path` from byte `offset` on."""

    path: Path
    offset: int
    start: int
    end: int


@dataclass(frozen=True)
class OnDisk:
    """Where the output is on disk: its parts, oldest first (none: nothing on disk), and the
    line saying how many earlier bytes were dropped that the joined file begins with."""

    parts: tuple[Part, ...] = ()
    marker: bytes = b""


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class CappedLog:
    """Append-only capture of one attempt's output (see the module docstring).

    `cap` <= 0 disables the cap. A failing disk (ENOSPC, EIO) stops the writing, never the
    counting: `total` and `tail()` stay exact."""

    __slots__ = (
        "_closed", "_disk_end", "_fd", "_half", "_joined", "_marker", "_old", "_old_size",
        "_pending", "_rotated", "_size", "_tail", "path", "total",
    )  # fmt: skip

    def __init__(self, path: Path, cap: int) -> None:
        self.path = path
        self._old = path.with_name(path.name + ".1")
        self._half = max(cap // 2, 1) if cap > 0 else 0
        self._fd: int | None = None
        self._pending = True  # not created yet
        self._size = 0
        self._rotated = False
        self._closed = False
        self._tail = bytearray()
        self.total = 0  # bytes produced by the attempt
        self._disk_end = 0  # stream offset past the last byte written to disk
        self._old_size = 0  # bytes in path.1
        self._joined = False
        self._marker = b""

    def write(self, data: bytes) -> None:
        """Append `data` (any bytes; nothing is decoded)."""
        self.total += len(data)
        if len(data) >= TAIL_BYTES:
            self._tail[:] = data[-TAIL_BYTES:]
        else:
            self._tail += data
            if len(self._tail) > 2 * TAIL_BYTES:
                del self._tail[:-TAIL_BYTES]
        if self._fd is None and not self._create():
            return
        try:
            self._append(data)
        except OSError:
            self._abandon()

    def _create(self) -> bool:
        """Open the file on first use; False if it is abandoned or cannot be created."""
        if not self._pending:
            return False
        self._pending = False
        try:
            self._fd = _open(self.path)
        except OSError:
            return False
        return True

    def _append(self, data: bytes) -> None:
        fd = self._fd
        assert fd is not None
        if not self._half:
            _write_all(fd, data)
            self._size += len(data)
            self._disk_end += len(data)
            return
        view = memoryview(data)
        while view:
            if self._size >= self._half:
                fd = self._rotate(fd)
            part = view[: self._half - self._size]
            _write_all(fd, part)
            self._size += len(part)
            self._disk_end += len(part)
            view = view[len(part) :]

    def _rotate(self, fd: int) -> int:
        self._fd = None
        os.close(fd)
        os.replace(self.path, self._old)
        self._fd = fd = _open(self.path)
        self._old_size, self._size = self._size, 0
        self._rotated = True
        return fd

    def _abandon(self) -> None:
        self._pending = False
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def tail(self) -> bytes:
        """The last TAIL_BYTES bytes of output."""
        return bytes(self._tail[-TAIL_BYTES:])

    def note(self, line: str) -> None:
        """Write a line of jobctl's own (e.g. why the spawn failed); not counted as output
        (`total`, `tail()`), though it is part of the stream `on_disk()` speaks of."""
        if self._fd is not None or self._create():
            try:
                self._append(line.encode())
            except OSError:
                self._abandon()

    def on_disk(self) -> OnDisk:
        """Where the output written so far is on disk (see OnDisk)."""
        end = self._disk_end
        if self._joined:
            kept = self._old_size + self._size
            return OnDisk((Part(self.path, len(self._marker), end - kept, end),), self._marker)
        if self._pending and self._fd is None:  # never created: nothing on disk
            return OnDisk()
        start = end - self._size
        current = Part(self.path, 0, start, end)
        if self._rotated:
            return OnDisk((Part(self._old, 0, start - self._old_size, start), current))
        return OnDisk((current,))

    def close(self) -> None:
        """Finish the file: join the rotated parts behind the marker. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._abandon()
        if self._rotated:
            with contextlib.suppress(OSError):  # else keep both parts rather than lose them
                self._join()

    def _join(self) -> None:
        parts = [self._old, self.path]
        kept = sum(p.stat().st_size for p in parts)
        tmp = self.path.with_name(self.path.name + ".tmp")
        out = _open(tmp)
        marker = MARKER.format(self.total - kept).encode() if self.total > kept else b""
        try:
            _write_all(out, marker)
            for part in parts:
                with open(part, "rb") as src:
                    size = os.fstat(src.fileno()).st_size
                    offset = 0
                    while offset < size:
                        sent = os.sendfile(out, src.fileno(), offset, size - offset)
                        if not sent:
                            break
                        offset += sent
        finally:
            os.close(out)
        os.replace(tmp, self.path)
        self._joined, self._marker = True, marker
        self._old.unlink()
