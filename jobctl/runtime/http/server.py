"""The daemon's HTTP/1.1 server: one I/O thread reads whole requests, a pool of workers
answers them.

A worker (with its own DB connection) never waits on a client. The I/O thread runs an
asyncio loop that accepts connections and reads each request in full within the limits
(`wire.Limits`: header and body sizes, a deadline from a request's first byte to its last
→ 408, an idle timeout between keep-alive requests); only then is the request handed to a
worker, through a bounded queue (full → 503 with Retry-After). The response goes back to
the loop, which writes it while the worker serves others; a client that does not take it
within `Limits.write` is dropped. An idle or slow connection costs a socket and a buffer,
never a worker, and their number is bounded too (`Limits.connections`, beyond it 503).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from jobctl.runtime.http.messages import Application, Request, Response
from jobctl.runtime.http.wire import HttpError, Limits, encode, read_request

DEFAULT_WORKERS = 16
Reply = asyncio.Future[Response]
Reject = Callable[[int, str], Response]  # (status, message) → the answer to a refused request


def _busy(message: str) -> Response:
    return Response.error(503, message, headers={"Retry-After": "1"})


def _resolve(reply: Reply, response: Response) -> None:
    if not reply.done():
        reply.set_result(response)


@dataclass
class _Connection:
    writer: asyncio.StreamWriter
    in_hand: bool = False  # a request of it is with a worker, or its response being written
    reply: Reply | None = None  # what a worker will answer


class HttpServer:
    """Bound at construction (a taken port fails at once); `start()` serves on background
    threads until `stop()`."""

    def __init__(
        self,
        address: tuple[str, int],
        app: Application,
        workers: int = DEFAULT_WORKERS,
        limits: Limits | None = None,
        reject: Reject | None = None,
    ) -> None:
        host, port = address
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.create_server((host, port), family=family, backlog=128)
        self._sock.setblocking(False)
        self.app, self.limits = app, limits or Limits()
        self.reject: Reject = reject or Response.error
        self._requests: queue.Queue[tuple[Request, Reply] | None] = queue.Queue(self.limits.backlog)
        self._workers = [
            threading.Thread(target=self._work, name=f"http-{n}", daemon=True)
            for n in range(workers)
        ]
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._connections: dict[asyncio.Task[None], _Connection] = {}
        self._grace = 5.0

    @property
    def server_address(self) -> tuple[str, int]:
        return self._sock.getsockname()[:2]

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def connections(self) -> int:
        """Open client connections."""
        return len(self._connections)

    def start(self) -> None:
        for worker in self._workers:
            worker.start()
        self._thread = threading.Thread(target=self._run, name="http", daemon=True)
        self._thread.start()
        self._ready.wait()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, drop idle and half-read connections, let requests in hand be
        answered (within `timeout`), then end the workers."""
        deadline = time.monotonic() + timeout
        if self._thread is None or self._loop is None or self._stopping is None:
            self._sock.close()
            return
        self._grace = timeout / 2
        with contextlib.suppress(RuntimeError):  # the loop has ended already
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout)
        for _ in self._workers:
            with contextlib.suppress(queue.Full):
                self._requests.put(None, timeout=max(0.0, deadline - time.monotonic()))
        for worker in self._workers:
            worker.join(max(0.0, deadline - time.monotonic()))

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        server = await asyncio.start_server(
            self._connection, sock=self._sock, limit=self.limits.line
        )
        self._ready.set()
        await self._stopping.wait()
        server.close()
        for conn in list(self._connections.values()):
            if not conn.in_hand:
                conn.writer.transport.abort()  # its task sees EOF and ends
        pending = list(self._connections)
        if pending:
            await asyncio.wait(pending, timeout=self._grace)
        for conn in list(self._connections.values()):
            conn.writer.transport.abort()
            if conn.reply is not None:
                _resolve(conn.reply, _busy("server stopping"))
        if pending:
            await asyncio.wait(pending, timeout=1.0)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        try:
            if len(self._connections) >= self.limits.connections:
                await self._send(writer, _busy("server busy: too many connections"), False)
                return
            conn = self._connections[task] = _Connection(writer)
            await self._converse(reader, conn)
        except (OSError, EOFError, asyncio.CancelledError):
            pass  # reset, dropped for not taking its response, or the loop ending: routine
        except Exception:  # a bug of ours must cost this connection only, never the loop
            writer.transport.abort()
        finally:
            self._connections.pop(task, None)
            writer.close()

    async def _converse(self, reader: asyncio.StreamReader, conn: _Connection) -> None:
        assert self._stopping is not None
        writer = conn.writer

        def send_continue() -> None:
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")

        while not self._stopping.is_set():
            try:
                request = await read_request(reader, self.limits, send_continue)
            except HttpError as exc:
                await self._send(writer, self.reject(exc.status, str(exc)), False)
                return
            if request is None:
                return
            conn.in_hand = True
            response = await self._answer(request, conn)
            keep = request.keep_alive and not response.close and not self._stopping.is_set()
            await self._send(writer, response, keep, head=request.method == "HEAD")
            conn.in_hand = False
            if not keep:
                return

    async def _answer(self, request: Request, conn: _Connection) -> Response:
        assert self._loop is not None
        reply: Reply = self._loop.create_future()
        try:
            self._requests.put_nowait((request, reply))
        except queue.Full:
            return _busy("server busy: every worker is taken, try again")
        conn.reply = reply
        try:
            return await reply
        finally:
            conn.reply = None

    async def _send(
        self, writer: asyncio.StreamWriter, response: Response, keep_alive: bool, head: bool = False
    ) -> None:
        writer.write(encode(response, keep_alive, head))
        try:
            async with asyncio.timeout(self.limits.write):
                await writer.drain()
        except TimeoutError:
            writer.transport.abort()
            raise EOFError("the client did not take its response") from None

    def _work(self) -> None:
        while (item := self._requests.get()) is not None:
            request, reply = item
            try:
                response = self.app(request)
            except Exception:  # the application logs its own errors; never kill a worker
                response = Response.error(500, "internal error")
            loop = self._loop
            if loop is not None:
                with contextlib.suppress(RuntimeError):  # the loop has ended (stop timed out)
                    loop.call_soon_threadsafe(_resolve, reply, response)
