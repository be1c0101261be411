"""top: a live full-screen view (rich Live) of queues, running jobs and recent failures.
`q` or Ctrl-C quits; without a TTY on stdout it prints one snapshot and exits."""

from __future__ import annotations

import contextlib
import select
import signal
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any

import typer

from jobctl.cli import render
from jobctl.cli.app import app
from jobctl.cli.context import state, wants_json
from jobctl.cli.options import Output

if TYPE_CHECKING:
    from jobctl.config.model import Config
    from jobctl.ops.top import Snapshot
    from jobctl.store.protocol import Store

ONE_SHOT_WINDOW = 60.0  # seconds of completions behind the rate of a one-shot snapshot
CPU_SAMPLE = 0.2  # seconds between the two looks at each process in a one-shot snapshot


@app.command()
def top(
    ctx: typer.Context,
    interval: Annotated[str, typer.Option(metavar="D", help="Refresh interval.")] = "1s",
    output: Output = None,
) -> None:
    """Live view of queues (ready/running/lag/rate), running jobs (CPU, RSS), failures."""
    from jobctl.domain.durations import parse_seconds

    every = max(0.1, parse_seconds(interval, "--interval"))
    app_state = state(ctx)
    store, config = app_state.client().store, app_state.config()
    if wants_json(ctx, output) or not sys.stdout.isatty():
        snap = _one_shot(store, config)
        if wants_json(ctx, output):
            render.print_json(snap.shape())
        else:
            _print_plain(snap)
        return
    _live(store, config, every)


def _one_shot(store: Store, config: Config) -> Snapshot:
    import time

    from jobctl.clock import utcnow
    from jobctl.ops.top import ProcessSampler, snapshot

    sampler = ProcessSampler()
    snapshot(store, config, utcnow(), ONE_SHOT_WINDOW, sampler)  # first look at each process
    time.sleep(CPU_SAMPLE)
    return snapshot(store, config, utcnow(), ONE_SHOT_WINDOW, sampler)


def _rows(snap: Snapshot) -> dict[str, tuple[list[str], list[list[Any]]]]:
    from jobctl.domain.durations import format_duration

    queues = [
        [
            q.queue + (" (paused)" if q.paused else ""),
            q.ready,
            q.running,
            format_duration(q.lag),
            f"{q.rate:.2f}",
        ]
        for q in snap.queues
    ]
    running = [
        [
            r.job_id,
            r.name or "-",
            r.queue,
            r.attempt,
            r.pid,
            format_duration(r.elapsed),
            "-" if r.cpu_percent is None else f"{r.cpu_percent:.1f}",
            _mib(r.rss),
            r.command[:60],
        ]
        for r in snap.running
    ]
    failures = [
        [
            f.job_id,
            f.name or "-",
            f.queue,
            f.attempt,
            render.local_time(f.finished_at),
            f.exit_code,
            f.failure_class,
        ]
        for f in snap.failures
    ]
    return {
        "Queues": (["queue", "ready", "running", "lag", "rate/s"], queues),
        "Running": (
            ["id", "name", "queue", "try", "pid", "elapsed", "cpu%", "rss", "command"],
            running,
        ),
        "Recent failures": (["id", "name", "queue", "try", "finished", "exit", "class"], failures),
        **_nodes(snap),
    }


def _nodes(snap: Snapshot) -> dict[str, tuple[list[str], list[list[Any]]]]:
    """The draining and dead nodes, when there are any."""
    if not snap.nodes:
        return {}
    rows = [
        [n.node, n.state + (" (draining)" if n.draining and n.state == "dead" else ""), n.running]
        for n in snap.nodes
    ]
    return {"Nodes": (["node", "state", "running"], rows)}


def _mib(rss: int | None) -> str:
    return "-" if rss is None else f"{rss / 1048576:.1f}MiB"


def _print_plain(snap: Snapshot) -> None:
    for index, (title, (headers, rows)) in enumerate(_rows(snap).items()):
        if index:
            render.say("")
        render.print_table(headers, rows, title=title)


def _render(snap: Snapshot, every: float) -> Any:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    parts: list[Any] = [
        Text(
            f"jobctl top  {render.local_time(snap.at)}  every {every:g}s  (q to quit)", style="bold"
        )
    ]
    for title, (headers, rows) in _rows(snap).items():
        table = Table(title=title, title_justify="left", header_style="bold", expand=True)
        for header in headers:
            table.add_column(header)
        for row in rows:
            table.add_row(*(Text(cell) for cell in render.cells(row)))
        if not rows:
            table.add_row(*(["-"] * len(headers)))
        parts.append(table)
    return Group(*parts)


@contextlib.contextmanager
def _cbreak() -> Iterator[bool]:
    """stdin in cbreak mode (single keys, Ctrl-C still a signal), restored on the way out.
    Yields whether keys can be read."""
    if not sys.stdin.isatty():
        yield False
        return
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield True
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _quit_pressed(timeout: float, keys: bool) -> bool:
    """Wait up to `timeout` for a key; True when it is `q`."""
    import os
    import time

    if not keys:
        time.sleep(timeout)
        return False
    ready, _, _ = select.select([sys.stdin], [], [], timeout)
    if not ready:
        return False
    return os.read(sys.stdin.fileno(), 32).strip().lower().startswith(b"q")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _live(store: Store, config: Config, every: float) -> None:
    from rich.console import Console
    from rich.live import Live

    from jobctl.clock import utcnow
    from jobctl.ops.top import ProcessSampler, snapshot

    sampler = ProcessSampler()
    console = Console()
    signal.signal(signal.SIGTERM, _interrupt)  # leave the screen and restore the tty
    with _cbreak() as keys:
        try:
            with Live(console=console, screen=True, auto_refresh=False, transient=True) as live:
                while True:
                    snap = snapshot(store, config, utcnow(), every, sampler)
                    live.update(_render(snap, every), refresh=True)
                    if _quit_pressed(every, keys):
                        break
        except KeyboardInterrupt:
            pass
