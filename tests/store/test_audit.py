"""The audit log: entries round-trip, filters by time and action prefix, secrets redacted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jobctl.domain.audit import REDACTED, Actor, redact
from jobctl.ops import audit
from jobctl.store import Store
from tests.support.factories import job_spec

ACTOR = Actor("alice", 1000, "web1")
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_entries_round_trip_oldest_first(store: Store) -> None:
    audit.record(store, T0, ACTOR, "r1", "queue.purge", "bulk", {"confirm": "bulk"})
    audit.record(store, T0 + timedelta(seconds=1), ACTOR, "r2", "dlq.replay", "7", {}, "refused")
    entries = audit.query(store)
    assert [(e.request_id, e.action, e.target, e.outcome) for e in entries] == [
        ("r1", "queue.purge", "bulk", "ok"),
        ("r2", "dlq.replay", "7", "refused"),
    ]
    assert entries[0].at == T0 and entries[0].actor == "alice" and entries[0].uid == 1000
    assert entries[0].args == {"confirm": "bulk"}


def test_since_and_action_prefix_filter(store: Store) -> None:
    audit.record(store, T0, ACTOR, "r1", "sweep.mark", "s1")
    audit.record(store, T0 + timedelta(hours=2), ACTOR, "r2", "sweep.run", "s1")
    audit.record(store, T0 + timedelta(hours=2), ACTOR, "r3", "sweepish", "x")
    audit.record(store, T0 + timedelta(hours=2), ACTOR, "r4", "queue.purge", "q")
    assert [e.request_id for e in audit.query(store, actions=["sweep"])] == ["r1", "r2"]
    assert [e.request_id for e in audit.query(store, actions=["sweep.run"])] == ["r2"]
    since = T0 + timedelta(hours=1)
    assert [e.request_id for e in audit.query(store, since=since)] == ["r2", "r3", "r4"]
    assert [e.request_id for e in audit.query(store, limit=1)] == ["r4"]


def test_secrets_are_redacted_before_they_are_stored(store: Store) -> None:
    args = {"env": ["DB_PASSWORD=hunter2", "MODE=fast"], "token": "abc", "queue": "q"}
    audit.record(store, T0, ACTOR, "r1", "enqueue", "1", args)
    stored = audit.query(store)[0].args
    assert stored == {
        "env": [f"DB_PASSWORD={REDACTED}", "MODE=fast"],
        "token": REDACTED,
        "queue": "q",
    }


def test_redact_leaves_harmless_values_alone() -> None:
    value = {"command": ["echo", "API_KEY=x"], "nested": {"secret_id": None, "n": 3}}
    assert redact(value) == {
        "command": ["echo", f"API_KEY={REDACTED}"],
        "nested": {"secret_id": None, "n": 3},
    }


def test_an_enqueue_records_its_audit_entry_with_the_jobs(store: Store) -> None:
    # Given an audit entry handed to the enqueue (the CLI and the HTTP API do this)
    entry = audit.entry(T0, ACTOR, "r1", "job.enqueue", None, {"count": 12})
    done = store.jobs.enqueue([job_spec() for _ in range(12)], T0, audit=entry)
    # Then it is in the log with the new ids as its target, written in the same transaction
    (recorded,) = audit.query(store)
    ids = [d.id for d in done]
    assert recorded.target == f"{min(ids)}..{max(ids)} (12 jobs)"
    assert (recorded.action, recorded.request_id, recorded.outcome) == ("job.enqueue", "r1", "ok")


def test_an_enqueue_that_creates_nothing_records_nothing_itself(store: Store) -> None:
    store.jobs.enqueue([job_spec(key="k")], T0)
    entry = audit.entry(T0, ACTOR, "r2", "job.enqueue", None)
    assert not store.jobs.enqueue([job_spec(key="k")], T0, audit=entry)[0].created
    assert audit.query(store) == []  # the caller (cli.audit.audited) records this one
