"""The change feed: what a daemon waits on. Another connection's enqueue must reach it (a
wake-up pushed where the backend can: inotify on SQLite, LISTEN/NOTIFY on PostgreSQL)."""

from __future__ import annotations

import threading

from jobctl.store import Store, open_store
from tests.support.clock import ManualClock
from tests.support.factories import job_spec


def test_another_connections_enqueue_is_seen_and_pushed(store: Store, db_url: str) -> None:
    # Given a started feed on one store, quiet after its first look
    woke = threading.Event()
    feed = store.changes()
    try:
        assert feed.start(woke.set)
        feed.changed()
        woke.wait(2)  # the first look after starting may report a change
        feed.changed()
        woke.clear()
        # When another connection enqueues a job
        other = open_store(db_url)
        try:
            other.jobs.enqueue([job_spec()], ManualClock().now())
        finally:
            other.close()
        # Then the feed pushes a wake-up and reports the change once
        assert woke.wait(10), "no wake-up was pushed"
        assert feed.changed()
    finally:
        feed.close()


def test_an_unstarted_feed_still_reports_changes(store: Store, db_url: str) -> None:
    feed = store.changes()
    feed.changed()
    other = open_store(db_url)
    try:
        other.jobs.enqueue([job_spec()], ManualClock().now())
    finally:
        other.close()
    assert feed.changed()
