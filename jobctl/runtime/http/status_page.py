"""`GET /status`: one server-rendered HTML page (no scripts, no build step), readable on a
phone, refreshing itself. Every value is escaped."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING

from jobctl.config.model import DEFAULT_QUEUE, Config
from jobctl.domain.durations import format_duration, iso_z
from jobctl.store.repos.daemons import DaemonInfo
from jobctl.store.repos.dlq import DeadLetter

if TYPE_CHECKING:
    from jobctl.store.protocol import Store

REFRESH_SECONDS = 5
ERROR_CHARS = 160

_STYLE = """
body{font-family:system-ui,sans-serif;margin:0;padding:1rem;color:#111;background:#fafafa}
h1{font-size:1.3rem;margin:0 0 .25rem}h2{font-size:1.05rem;margin:1.5rem 0 .5rem}
p.meta{color:#555;margin:0 0 1rem;font-size:.85rem}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;width:100%;background:#fff;font-size:.9rem}
th,td{padding:.4rem .6rem;border-bottom:1px solid #ddd;text-align:left;white-space:nowrap}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.err{white-space:normal;word-break:break-word;min-width:12rem}
tr.bad td{background:#fff0f0}
@media (max-width:600px){body{padding:.5rem}th,td{padding:.3rem .4rem;font-size:.8rem}}
"""


@dataclass(frozen=True)
class QueueRow:
    queue: str
    lag_seconds: float
    failed_24h: int
    ready: int
    running: int
    scheduled: int
    dead: int
    paused: bool


def queue_rows(store: Store, config: Config, now: datetime) -> list[QueueRow]:
    """One row per queue seen in the DB or the config (indexed counts, as `status`)."""
    figures = store.stats.queue_figures(now)
    paused = store.queues.paused()
    names = set(figures) | paused | {q.name for q in config.queues} | {DEFAULT_QUEUE}
    rows = []
    for name in sorted(names):
        f = figures.get(name)
        oldest = f.oldest_ready_at if f else None
        rows.append(
            QueueRow(
                queue=name,
                lag_seconds=max(0.0, now.timestamp() - oldest) if oldest is not None else 0.0,
                failed_24h=f.failed_24h if f else 0,
                ready=f.ready if f else 0,
                running=f.running if f else 0,
                scheduled=f.scheduled if f else 0,
                dead=f.dead if f else 0,
                paused=name in paused,
            )
        )
    return rows


def page(store: Store, config: Config, now: datetime, recent_dead: int = 20) -> str:
    """The page from the DB: queues, live daemons, and the last `recent_dead` jobs that
    died (one row per job, its latest death)."""
    rows = queue_rows(store, config, now)
    return render(rows, store.daemons.live(now), store.dlq.latest_per_job(recent_dead), now)


def _cell(value: object, css: str = "") -> str:
    attr = f' class="{css}"' if css else ""
    return f"<td{attr}>{escape(str(value))}</td>"


def _head(names: Sequence[tuple[str, str]]) -> str:
    cells = "".join(
        f'<th scope="col" class="{css}">{escape(name)}</th>' if css else f"<th>{escape(name)}</th>"
        for name, css in names
    )
    return f"<thead><tr>{cells}</tr></thead>"


def _queues_table(queues: Sequence[QueueRow]) -> str:
    head = _head(
        [
            ("Queue", ""),
            ("Lag", "num"),
            ("Failures (24h)", "num"),
            ("Ready", "num"),
            ("Running", "num"),
            ("Scheduled", "num"),
            ("Dead", "num"),
            ("Paused", ""),
        ]
    )
    rows = []
    for q in queues:
        css = ' class="bad"' if q.failed_24h or q.dead else ""
        rows.append(
            f'<tr{css} data-queue="{escape(q.queue)}">'
            + _cell(q.queue)
            + _cell(format_duration(q.lag_seconds), "num")
            + _cell(q.failed_24h, "num")
            + _cell(q.ready, "num")
            + _cell(q.running, "num")
            + _cell(q.scheduled, "num")
            + _cell(q.dead, "num")
            + _cell("yes" if q.paused else "no")
            + "</tr>"
        )
    return (
        f'<div class="scroll"><table id="queues">{head}<tbody>{"".join(rows)}</tbody></table></div>'
    )


def _dead_table(dead: Sequence[DeadLetter]) -> str:
    if not dead:
        return '<p id="no-dead">No dead jobs.</p>'
    head = _head([("Job", "num"), ("Queue", ""), ("Class", ""), ("Dead since", ""), ("Error", "")])
    rows = []
    for d in dead:
        error = (d.error or "")[:ERROR_CHARS]
        rows.append(
            "<tr>"
            + _cell(d.job_id, "num")
            + _cell(d.queue)
            + _cell(d.failure_class or "-")
            + _cell(iso_z(d.created_at))
            + _cell(error, "err")
            + "</tr>"
        )
    return (
        f'<div class="scroll"><table id="dead">{head}<tbody>{"".join(rows)}</tbody></table></div>'
    )


def _daemons(daemons: Sequence[DaemonInfo], now: datetime) -> str:
    if not daemons:
        return '<p id="daemons">No live daemon.</p>'
    parts = [
        f"{escape(d.node)} (pid {d.pid}, heartbeat "
        f"{escape(format_duration(max(0.0, (now - d.heartbeat_at).total_seconds())))} ago)"
        for d in daemons
    ]
    return f'<p id="daemons">Daemons: {"; ".join(parts)}</p>'


def render(
    rows: Sequence[QueueRow],
    daemons: Sequence[DaemonInfo],
    dead: Sequence[DeadLetter],
    now: datetime,
) -> str:
    """The whole page."""
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">'
        f"<title>jobctl status</title><style>{_STYLE}</style></head><body>"
        "<h1>jobctl status</h1>"
        f'<p class="meta">As of {escape(iso_z(now) or "")}; refreshes every '
        f"{REFRESH_SECONDS}s.</p>"
        f"{_daemons(daemons, now)}"
        "<h2>Queues</h2>"
        f"{_queues_table(rows)}"
        "<h2>Recent dead jobs</h2>"
        f"{_dead_table(dead)}"
        "</body></html>\n"
    )
