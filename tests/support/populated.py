"""A jobctl database filled through real use (the `jobctl` CLI and a daemon as subprocesses,
plus the store verbs of what only time or a broker produces), so that every table holds
rows: for `db copy` round trips and `db check`."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from jobctl.clock import utcnow
from jobctl.domain.notify import Route, parse_max_per, plan
from jobctl.domain.schedule import FireDecision, Outcome
from jobctl.store import open_store
from jobctl.store.copy import TABLES
from tests.support.cli import Jobctl
from tests.support.factories import claim, job_spec

CONFIG = """\
queues:
  - name: limited
    rate_limit: 100/m
  - name: held
"""


def populate(jc: Jobctl) -> dict[str, int]:
    """Fill `jc`'s SQLite DB; returns the ids worth knowing."""
    config = jc.tmp / "config.yaml"
    config.write_text(CONFIG)
    jc.env["JOBCTL_CONFIG"] = str(config)
    ids = {
        "succeeded": jc.enqueue("--name", "fine", "--", "true"),
        "dead": jc.enqueue(
            "--name", "flaky", "--max-attempts", "1", "--", "sh", "-c", "echo oops; exit 3"
        ),  # a named job's death starts a failure streak (notify_streaks)
        "retrying": jc.enqueue("--max-attempts", "5", "--backoff-base", "1h", "--", "false"),
        "limited": jc.enqueue("-Q", "limited", "--tenant", "acme", "--", "true"),
        "future": jc.enqueue("--in", "1h", "--key", "later", "--", "true"),
        "cancelled": jc.enqueue("--in", "1h", "--", "true"),
    }
    ids["waiting"] = jc.enqueue("--after", str(ids["future"]), "--", "true")
    ids["gang"] = jc.enqueue("--gang", "2", "--", "true")  # the daemon runs it (gangs)
    jc.ok("cancel", str(ids["cancelled"]))
    jc.ok("schedule", "add", "nightly", "--cron", "0 3 * * *", "--tz", "UTC", "--", "echo", "hi")
    jc.ok("queue", "pause", "held")
    jc.ok("once", "run", "migrate-1", "--", "true")
    jc.ok("lock", "run", "deploy", "--", "true")
    jc.ok("token", "create", "ci", "--scope", "enqueue,read")
    target = _sweep_target(jc.tmp)
    jc.ok("sweep", "mark", "--target", f"sqlite:///{target}", "--table", "t", "--where", "v > 1")
    jc.ok("daemon", "--burst")
    jc.ok("dlq", "replay", "--all")
    _by_the_store(str(jc.db), ids)
    return ids


def _sweep_target(tmp: Path) -> Path:
    import sqlite3

    path = tmp / "target.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)")
        conn.executemany("INSERT INTO t (v) VALUES (?)", [(v,) for v in range(5)])
    return path


def _by_the_store(db: str, ids: dict[str, int]) -> None:
    """What a CLI call cannot produce on cue: a schedule's fire, a job caught running with a
    checkpoint, kafka lag samples."""
    store = open_store(db)
    try:
        now = utcnow()
        fire = FireDecision(now - timedelta(minutes=1), Outcome.ENQUEUED, now)
        store.schedules.record_fires("nightly", [(fire, job_spec(["echo", "hi"]))], now, now)
        store.schedules.record_fires(
            "nightly", [(FireDecision(now - timedelta(days=1), Outcome.NO_DAEMON), None)], now, now
        )
        (running,) = store.dispatch.claim(claim(runner="node-b:1:x", lease=3600), now)
        store.jobs.set_checkpoint(running.id, "step-2")
        ids["running"] = running.id
        store.kafka.record_samples(
            "main", "billing", [("orders", 0, 10, 15), ("orders", 1, None, 3)], now,
            now - timedelta(days=1),
        )  # fmt: skip
        # kept output (PostgreSQL keeps it in the store; SQLite in files): a chunk of the
        # dead job's attempt
        store.output.append(ids["dead"], 1, 1, b"oops\n")
        # the dead job's event routed to a channel under a max_per window (deliveries, windows)
        route = Route("oncall", ("pager",), match={}, max_per=parse_max_per("2/30m"))
        store.notify.route(now, lambda events, windows: plan(events, [route], windows, now))
    finally:
        store.close()


def table_rows(db: Any, table: str, where: str = "TRUE") -> list[tuple[Any, ...]]:
    """A table's rows, columns by name, sorted: comparable across backends. `db` is a
    sqlite3 or psycopg connection (with the schema on its search path)."""
    cursor = db.execute(f"SELECT * FROM {table} WHERE {where}")
    names = [d[0] for d in cursor.description]
    order = sorted(range(len(names)), key=lambda i: names[i])
    rows = [tuple(row[i] for i in order) for row in cursor.fetchall()]
    return sorted(rows, key=repr)


def all_rows(db: Any) -> dict[str, list[tuple[Any, ...]]]:
    return {t: table_rows(db, t) for t in TABLES}
