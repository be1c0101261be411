"""Python handler jobs (`handler: module:function`), run in a small thread pool.

A handler is called with the payload. It cannot be killed: on timeout the attempt is
recorded as timed out and the thread is left to finish on its own (documented limit).
"""

from __future__ import annotations

import importlib
import queue
import threading
import time
import traceback
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
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


class HandlerPool:
    """Runs handlers on threads; finished results are picked up with `collect()`."""

    def __init__(self, workers: int, wake: Callable[[], None]) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="handler")
        self._done: queue.SimpleQueue[tuple[Hashable, HandlerResult]] = queue.SimpleQueue()
        self._wake = wake
        self._deadlines: dict[Hashable, tuple[float, float]] = {}  # key -> (started, deadline)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._deadlines)

    def start(self, key: Hashable, handler: str, payload: Any, timeout: float | None) -> None:
        started = time.monotonic()
        with self._lock:
            self._deadlines[key] = (started, started + timeout if timeout else float("inf"))
        self._pool.submit(self._run, key, handler, payload, started)

    def _run(self, key: Hashable, handler: str, payload: Any, started: float) -> None:
        try:
            resolve_handler(handler)(payload)
            result = HandlerResult(True, None, time.monotonic() - started)
        except BaseException as exc:  # the handler's failure is the job's failure
            text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            result = HandlerResult(False, f"{handler}: {text}", time.monotonic() - started)
        self._finish(key, result)

    def _finish(self, key: Hashable, result: HandlerResult) -> None:
        with self._lock:
            if self._deadlines.pop(key, None) is None:
                return  # already reported as timed out
        self._done.put((key, result))
        self._wake()

    def collect(self) -> list[tuple[Hashable, HandlerResult]]:
        """Finished handlers, plus those past their deadline (reported once as timed out)."""
        now = time.monotonic()
        with self._lock:
            late = [(k, s) for k, (s, d) in self._deadlines.items() if d <= now]
            for key, _ in late:
                del self._deadlines[key]
        out = [(k, HandlerResult(False, "handler timed out", now - s, True)) for k, s in late]
        while True:
            try:
                out.append(self._done.get_nowait())
            except queue.Empty:
                return out

    def keys(self) -> list[Hashable]:
        with self._lock:
            return list(self._deadlines)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
