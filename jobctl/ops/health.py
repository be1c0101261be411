"""`jobctl health` and `/healthz`: probes → Report in Nagios levels. Never raises.

Probes: db (open, writable, quick integrity), daemons (live, heartbeat age), nodes
(draining or dead), queue_lag,
queue_depth, dlq_growth (last hour), missed_schedules (dead man's switch), crontab_overlap
(an active imported schedule whose crontab line is still live), disk (free at the DB's
volume; SQLite), server (dead tuples, oldest open transaction) and clocks (each node's offset
from the database's) on PostgreSQL. Each query is indexed, so the whole check stays well
under a second on a DB with a million finished jobs.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from jobctl.config.health import HealthConfig
from jobctl.config.model import Config
from jobctl.domain.durations import format_duration
from jobctl.ops.report import Level, Probe, Report
from jobctl.ops.schedule_health import overdue_schedules
from jobctl.store import open_store

if TYPE_CHECKING:
    from jobctl.store.protocol import Store


HOUR = timedelta(hours=1)
DEAD_TUPLES_WARN = 0.2  # PostgreSQL: dead share of the jobs table's tuples,
DEAD_TUPLES_MIN = 10_000  # once there are this many (a small table's churn is no bloat)
OLD_XACT_WARN = 300.0  # seconds an open transaction may hold vacuum back
OLD_XACT_CRIT = 3600.0
CLOCK_WARN = 1.0  # seconds a node's clock may be off the database's


@dataclass(frozen=True)
class QueueLoad:
    queue: str
    depth: int  # ready jobs (due, not running)
    lag: float  # seconds the oldest ready job has waited
    paused: bool


def check(
    store: Store, config: Config, now: datetime, thresholds: HealthConfig | None = None
) -> Report:
    """Run every probe against `store`; thresholds default to `config.health`."""
    t = thresholds or config.health
    probes = [_guard("db", Level.CRITICAL, lambda: probe_db(store, now))]
    probes.append(_guard("daemons", Level.CRITICAL, lambda: probe_daemons(store, now, t)))
    probes.append(_guard("nodes", Level.UNKNOWN, lambda: probe_nodes(store, now)))
    try:
        loads = queue_loads(store, config, now)
    except Exception as exc:
        probes += [
            _failed("queue_lag", Level.UNKNOWN, exc),
            _failed("queue_depth", Level.UNKNOWN, exc),
        ]
    else:
        probes += [probe_lag(loads, t), probe_depth(loads, config, t)]
    probes.append(_guard("dlq_growth", Level.UNKNOWN, lambda: probe_dlq(store, now, t)))
    shadow = config.shadow_mode.enabled
    missed = _guard("missed_schedules", Level.UNKNOWN, lambda: probe_missed(store, now, t, shadow))
    probes.append(missed)
    probes.append(_guard("crontab_overlap", Level.UNKNOWN, lambda: probe_crontab(store, shadow)))
    if not config.enabled:
        probes.append(probe_enabled(config))
    local = store.local_path
    if local is not None:
        probes.append(_guard("disk", Level.UNKNOWN, lambda: probe_disk(local, t)))
    else:  # a server shared by hosts: its own figures, and each node's clock against it
        probes.append(_guard("server", Level.UNKNOWN, lambda: probe_server(store)))
        probes.append(_guard("clocks", Level.UNKNOWN, lambda: probe_clocks(store, now)))
    return Report.of(probes)


def check_url(
    db_url: str, config: Config, now: datetime, thresholds: HealthConfig | None = None
) -> Report:
    """`check` on the DB at `db_url`, opened as it is (never created or migrated); a DB that
    is missing or cannot be opened is one CRITICAL probe."""
    try:
        store = open_store(db_url, create=False)
    except Exception as exc:
        return db_unusable(exc)
    try:
        return check(store, config, now, thresholds)
    finally:
        store.close()


def db_unusable(exc: BaseException) -> Report:
    """The report of a monitor whose DB is missing or cannot be opened: CRITICAL."""
    return Report.of([_failed("db", Level.CRITICAL, exc)])


def _failed(name: str, level: Level, exc: BaseException) -> Probe:
    return Probe(name, level, None, " ".join(str(exc).split()) or type(exc).__name__)


def _guard(name: str, level: Level, probe: Callable[[], Probe]) -> Probe:
    try:
        return probe()
    except Exception as exc:
        return _failed(name, level, exc)


def _over(value: float, limit: float | None) -> bool:
    return limit is not None and value > limit


def probe_db(store: Store, now: datetime) -> Probe:
    """Writable (a rolled-back write) and sound (quick_check of schema and small tables)."""
    store.health.probe_write(now)
    problems = store.health.quick_check()
    if problems:
        return Probe("db", Level.CRITICAL, len(problems), "integrity: " + "; ".join(problems[:3]))
    return Probe("db", Level.OK, 0, f"{store.url} open, writable, quick check ok")


def probe_daemons(store: Store, now: datetime, t: HealthConfig) -> Probe:
    """None live → CRITICAL; a heartbeat older than the limit → WARNING."""
    live = store.daemons.live(now)
    if not live:
        return Probe("daemons", Level.CRITICAL, 0, "no live daemon: nothing runs jobs")
    late = []
    worst_age = 0.0
    for d in live:
        age = max(0.0, (now - d.heartbeat_at).total_seconds())
        worst_age = max(worst_age, age)
        limit = t.max_heartbeat_age if t.max_heartbeat_age is not None else 2 * d.heartbeat_interval
        if age > limit:
            late.append(f"{d.node} ({format_duration(age)} > {format_duration(limit)})")
    names = ", ".join(sorted({d.node for d in live}))
    if late:
        message = f"late heartbeat: {', '.join(late)}"
        return Probe("daemons", Level.WARNING, len(live), message)
    message = f"{len(live)} live ({names}), oldest heartbeat {format_duration(worst_age)} ago"
    return Probe("daemons", Level.OK, len(live), message)


def probe_nodes(store: Store, now: datetime) -> Probe:
    """A draining node (it claims nothing) or a dead one (no daemon heartbeats) → WARNING,
    naming them; `node resume` or `node forget` clears it."""
    nodes = store.nodes.list(now)
    dead = [n.name for n in nodes if not n.alive]
    draining = [n.name for n in nodes if n.alive and n.draining]
    if not dead and not draining:
        return Probe("nodes", Level.OK, len(nodes), f"{len(nodes)} active")
    parts = []
    if draining:
        parts.append(f"draining: {', '.join(draining[:10])}")
    if dead:
        parts.append(f"dead: {', '.join(dead[:10])}")
    return Probe("nodes", Level.WARNING, len(dead) + len(draining), "; ".join(parts))


def queue_loads(store: Store, config: Config, now: datetime) -> list[QueueLoad]:
    """Ready depth and lag of every queue known to the DB or the config."""
    figures = store.stats.queue_figures(now)
    paused = store.queues.paused()
    names = set(figures) | paused | {q.name for q in config.queues} | {"default"}
    loads = []
    for name in sorted(names):
        f = figures.get(name)
        oldest = f.oldest_ready_at if f else None
        lag = max(0.0, now.timestamp() - oldest) if oldest is not None else 0.0
        loads.append(QueueLoad(name, f.ready if f else 0, round(lag, 3), name in paused))
    return loads


def _levelled(value: float, warn: float | None, crit: float | None, paused: bool) -> Level:
    if _over(value, crit):
        return Level.WARNING if paused else Level.CRITICAL
    return Level.WARNING if _over(value, warn) else Level.OK


def probe_lag(loads: list[QueueLoad], t: HealthConfig) -> Probe:
    """The worst queue's lag vs warn_lag / max_lag (a paused queue: WARNING at most)."""
    rated = [(_levelled(q.lag, t.warn_lag, t.max_lag, q.paused), q) for q in loads]
    return _queue_probe("queue_lag", rated, lambda q: q.lag, lambda v: format_duration(v))


def probe_depth(loads: list[QueueLoad], config: Config, t: HealthConfig) -> Probe:
    """The worst queue's ready depth vs warn_depth / max_depth (else the queue's
    configured max_depth as the warning level)."""
    rated = []
    for q in loads:
        conf = config.queue(q.queue)
        warn = t.warn_depth if t.warn_depth is not None else (conf.max_depth if conf else None)
        rated.append((_levelled(q.depth, warn, t.max_depth, q.paused), q))
    return _queue_probe("queue_depth", rated, lambda q: q.depth, str)


def _queue_probe(
    name: str,
    rated: list[tuple[Level, QueueLoad]],
    figure: Callable[[QueueLoad], float],
    show: Callable[[float], str],
) -> Probe:
    if not rated:
        return Probe(name, Level.OK, 0, "no queues")
    level = max((lv for lv, _ in rated), key=lambda lv: lv.severity)
    worst = max(rated, key=lambda r: (r[0].severity, figure(r[1])))[1]
    bad = [f"{q.queue}={show(figure(q))}" for lv, q in rated if lv is not Level.OK]
    if bad:
        message = f"over threshold: {', '.join(bad)}"
    else:
        message = f"max {show(figure(worst))} ({worst.queue}) over {len(rated)} queue(s)"
    return Probe(name, level, figure(worst), message)


def probe_dlq(store: Store, now: datetime, t: HealthConfig) -> Probe:
    """Dead letters added in the last hour vs warn_dlq_growth / max_dlq_growth."""
    added = store.health.dlq_added_since(now - HOUR)
    total = sum(added.values())
    level = _levelled(total, t.warn_dlq_growth, t.max_dlq_growth, False)
    detail = ", ".join(f"{q}={n}" for q, n in sorted(added.items()))
    message = f"{total} dead letter(s) in the last hour" + (f" ({detail})" if detail else "")
    return Probe("dlq_growth", level, total, message)


def probe_missed(store: Store, now: datetime, t: HealthConfig, shadow_mode: bool = False) -> Probe:
    """WARNING when a schedule's last success is older than its interval plus the grace."""
    overdue = overdue_schedules(store, now, t.schedule_grace, shadow_mode)
    if not overdue:
        return Probe("missed_schedules", Level.OK, 0, "every active schedule succeeded on time")
    shown = ", ".join(
        f"{o.name} (last success {format_duration(o.age)} ago, every {format_duration(o.interval)})"
        for o in overdue[:5]
    )
    more = f" and {len(overdue) - 5} more" if len(overdue) > 5 else ""
    return Probe("missed_schedules", Level.WARNING, len(overdue), f"overdue: {shown}{more}")


def probe_crontab(store: Store, shadow_mode: bool = False) -> Probe:
    """WARNING when an active imported schedule's crontab line is still active (the same
    check as `config check`)."""
    from jobctl.ops.crontab_import import still_in_crontab

    warnings = still_in_crontab(store, shadow_mode)
    if warnings:
        return Probe("crontab_overlap", Level.WARNING, len(warnings), "; ".join(warnings[:3]))
    return Probe("crontab_overlap", Level.OK, 0, "no imported schedule still active in a crontab")


def probe_enabled(config: Config) -> Probe:
    """WARNING, present only when the config says `enabled: false`."""
    where = f" in {config.source}" if config.source else ""
    message = f"disabled by config (enabled: false{where}): no job is claimed, no schedule fires"
    return Probe("enabled", Level.WARNING, 0, message)


def probe_disk(db_path: Path, t: HealthConfig) -> Probe:
    """Free space at the DB's volume: under the floor → CRITICAL, under twice it → WARNING."""
    usage = shutil.disk_usage(db_path.parent)
    floor = t.min_free_disk.floor(usage.total)
    percent = 100 * usage.free / usage.total if usage.total else 0.0
    level = Level.CRITICAL if usage.free < floor else Level.OK
    if level is Level.OK and usage.free < 2 * floor:
        level = Level.WARNING
    message = (
        f"{_size(usage.free)} free of {_size(usage.total)} ({percent:.1f}%) at {db_path.parent},"
        f" floor {t.min_free_disk.text}"
    )
    return Probe("disk", level, usage.free, message)


def probe_server(store: Store) -> Probe:
    """PostgreSQL: the jobs table's dead-tuple ratio (bloat slows every claim) and the
    oldest open transaction (it holds vacuum back): WARNING past DEAD_TUPLES_WARN (of at
    least DEAD_TUPLES_MIN) or OLD_XACT_WARN, CRITICAL past OLD_XACT_CRIT."""
    figures = store.server_figures()
    if figures is None:
        return Probe("server", Level.OK, 0, "no server")
    level = Level.OK
    bloated = figures.dead_tuple_ratio > DEAD_TUPLES_WARN and figures.dead_tuples >= DEAD_TUPLES_MIN
    if bloated or figures.oldest_xact > OLD_XACT_WARN:
        level = Level.WARNING
    if figures.oldest_xact > OLD_XACT_CRIT:
        level = Level.CRITICAL
    message = (
        f"jobs dead tuples {100 * figures.dead_tuple_ratio:.1f}% ({figures.dead_tuples}),"
        f" oldest open transaction {format_duration(figures.oldest_xact)}"
    )
    return Probe("server", level, round(figures.dead_tuple_ratio, 4), message)


def probe_clocks(store: Store, now: datetime) -> Probe:
    """Each live node's clock offset from the database's (measured at its heartbeat):
    WARNING past CLOCK_WARN seconds (jobctl times leases by the database, but job output,
    logs and cron inside jobs use the node's clock)."""
    live = store.daemons.live(now)
    if not live:
        return Probe("clocks", Level.OK, 0, "no live daemon")
    worst = max(live, key=lambda d: abs(d.clock_offset))
    shown = ", ".join(f"{d.node} {d.clock_offset:+.3f}s" for d in live[:5])
    level = Level.WARNING if abs(worst.clock_offset) > CLOCK_WARN else Level.OK
    return Probe(
        "clocks", level, round(worst.clock_offset, 3), f"offset from the database: {shown}"
    )


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024
    return f"{n:.1f}TiB"
