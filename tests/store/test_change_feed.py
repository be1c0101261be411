"""The change feed: what a daemon waits on. Another connection's enqueue must reach it (a
wake-up pushed where the backend can: inotify on SQLite, LISTEN/NOTIFY on PostgreSQL)."""

from __future__ import annotations

import threading

import pytest

from jobctl.errors import InvalidInput
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


def test_with_poll_in_the_url_nothing_listens_and_the_feed_rescans(pg_url: str) -> None:
    # Given a URL for PgBouncer in transaction mode (no LISTEN): `?poll=` with a duration
    store = open_store(pg_url + "?poll=250ms")
    try:
        feed = store.changes()
        # Then the feed starts no listener and asks to be re-read every 0.25 s
        assert not feed.start(lambda: None)
        assert feed.rescan == 0.25
        feed.close()
    finally:
        store.close()


def test_a_bad_poll_in_the_url_names_it(pg_url: str) -> None:
    with pytest.raises(InvalidInput, match="poll 'soon' in the database URL"):
        open_store(pg_url + "?poll=soon")
    with pytest.raises(InvalidInput, match="positive duration"):
        open_store(pg_url + "?poll=0s")
