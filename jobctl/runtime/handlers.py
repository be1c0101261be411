"""Python handler jobs (`handler: module:function`), run by a warm pool of worker threads.

The daemon's claim fills a local queue; the workers (started once, kept warm) pull from it
and leave their results in a list the daemon collects once per tick, so a job costs no
thread start, no future and no wake-up of its own when others finished before it. A handler
is called with the payload. It cannot be killed: on timeout the attempt is recorded as timed
out and the thread is left to finish on its own (documented limit).
"""

from __future__ import annotations

import importlib
import queue
import threading
import time
import traceback
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class HandlerResult:
    ok: bool
    error: str | None
    duration: float
    timed_out: bool = False


def resolve_handler(spec: str) -> Callable[..., Any]:
    module_name, _, attr = spec.partition(":")
    module = importlib.import_module(module_name)
    target: Any = module
    for part in attr.split("."):
        target = getattr(target, part)
    if not callable(target):
        raise TypeError(f"{spec} is not callable")
    return target


_Item = tuple[Hashable, str, Any, float]  # key, handler, payload, started (monotonic)


class HandlerPool:
    """`workers` warm threads pulling handler jobs from a local queue (`start`); finished
    results are picked up with `collect()`. `wake` is called when a result arrives while
    none is waiting to be collected (one wake-up per batch, not per job)."""

    def __init__(self, workers: int, wake: Callable[[], None]) -> None:
        self._workers = max(1, workers)
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._done: list[tuple[Hashable, HandlerResult]] = []
        self._wake = wake
        self._deadlines: dict[Hashable, tuple[float, float]] = {}  # key -> (started, deadline)
        self._resolved: dict[str, Callable[..., Any]] = {}
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._closed = False

    def __len__(self) -> int:
        with self._lock:
            return len(self._deadlines)

    def start(self, key: Hashable, handler: str, payload: Any, timeout: float | None) -> None:
        """Queue one handler job for the next free worker."""
        started = time.monotonic()
        with self._lock:
            self._deadlines[key] = (started, started + timeout if timeout else float("inf"))
        if not self._threads:  # warm from the first handler job on (none for command jobs)
            for n in range(self._workers):
                thread = threading.Thread(target=self._work, name=f"handler-{n}", daemon=True)
                thread.start()
                self._threads.append(thread)
        self._queue.put((key, handler, payload, started))

    def _work(self) -> None:
        while (item := self._queue.get()) is not None and not self._closed:
            key, handler, payload, started = item
            try:
                func = self._resolved.get(handler)
                if func is None:
                    func = self._resolved[handler] = resolve_handler(handler)
                func(payload)
                result = HandlerResult(True, None, time.monotonic() - started)
            except BaseException as exc:  # the handler's failure is the job's failure
                text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
                result = HandlerResult(False, f"{handler}: {text}", time.monotonic() - started)
            self._finish(key, result)

    def _finish(self, key: Hashable, result: HandlerResult) -> None:
        with self._lock:
            if self._deadlines.pop(key, None) is None:
                return  # already reported as timed out
            first = not self._done
            self._done.append((key, result))
        if first:
            self._wake()

    def collect(self) -> list[tuple[Hashable, HandlerResult]]:
        """Finished handlers, plus those past their deadline (reported once as timed out)."""
        now = time.monotonic()
        with self._lock:
            out, self._done = self._done, []
            late = [(k, s) for k, (s, d) in self._deadlines.items() if d <= now]
            for key, _ in late:
                del self._deadlines[key]
        out += [(k, HandlerResult(False, "handler timed out", now - s, True)) for k, s in late]
        return out

    def keys(self) -> list[Hashable]:
        with self._lock:
            return list(self._deadlines)

    def shutdown(self) -> None:
        """Start nothing more (jobs still queued are dropped: the daemon gives them back);
        running handlers are left to finish on their own."""
        self._closed = True
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        for _ in self._threads:
            self._queue.put(None)
