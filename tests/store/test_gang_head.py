"""The daemon asks for the first waiting gang on every tick: its cost must not grow with the
number of ordinary ready jobs (SQLite once walked them all, each tick). Counted in SQLite
virtual-machine steps (a progress handler), not time."""

from __future__ import annotations

import time
from pathlib import Path

from jobctl.client import Client
from jobctl.config.resolve import EnqueueOptions
from jobctl.store import open_store
from jobctl.store.repos import gangs

STEP = 100  # VM instructions between two calls of the progress handler


def head_steps(db: Path) -> int:
    """Progress-handler calls while gangs.head runs once in a write transaction."""
    store = open_store(str(db))
    try:
        calls = [0]
        with store.db.write() as conn:  # type: ignore[attr-defined]
            raw = conn.raw

            def count() -> int:
                calls[0] += 1
                return 0

            raw.set_progress_handler(count, STEP)
            try:
                gangs.head(conn, time.time())
            finally:
                raw.set_progress_handler(None, STEP)
        return calls[0]
    finally:
        store.close()


def test_the_first_waiting_gang_is_found_without_walking_the_ready_jobs(tmp_path: Path) -> None:
    few, many = tmp_path / "few.db", tmp_path / "many.db"
    for db, n in ((few, 10), (many, 5000)):
        with Client(db) as client:
            client.enqueue_options([EnqueueOptions(command=["true"]) for _ in range(n)])
            client.enqueue_options([EnqueueOptions(command=["true"], gang=2)])
    assert head_steps(many) <= head_steps(few) + 5  # not ~5000 rows' worth more
