"""A daemon whose reservations another daemon's start has used (the gang it reserved for
started) is woken to launch its members: with no free slot and nothing reserved any more,
its claim is one statement, on the critical path of every gang spread over nodes. One that
still holds a reservation goes the whole way (it may have to give the reservation back)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from jobctl.client import Client
from jobctl.config.resolve import EnqueueOptions
from jobctl.store import Store, open_store
from jobctl.store.repos.daemons import DaemonInfo
from jobctl.store.repos.dispatch import Claim, Tick
from jobctl.store.repos.nodes import NodeInfo


def live_node(store: Store, name: str, now: datetime) -> Claim:
    """A node with a live one-slot daemon; its claim with the slot reserved."""
    store.nodes.register(NodeInfo(name, "host", (), None, now, now, 10.0))
    runner = f"{name}:1:x"
    store.daemons.register(
        DaemonInfo(runner, name, "host", 1, None, None, now, now, 10.0, concurrency=1)
    )
    return Claim(runner=runner, node=name, slots=1, lease=30.0)


def tick_counted(store: Store, claim: Claim, now: datetime) -> tuple[Tick, int]:
    """The tick and the statements it ran (SQLite's trace callback)."""
    statements: list[str] = []
    raw = store.db.raw  # type: ignore[attr-defined]
    raw.set_trace_callback(statements.append)
    try:
        return store.dispatch.tick([], claim, now), len(statements)
    finally:
        raw.set_trace_callback(None)


def test_a_runner_whose_gang_started_elsewhere_launches_its_member_in_one_statement(
    db_path: Path,
) -> None:
    with Client(db_path) as client:
        (gang,) = client.enqueue_options([EnqueueOptions(command=["true"], gang=2)])
    now = datetime.now(UTC)
    store = open_store(str(db_path))
    try:
        first, second = live_node(store, "n1", now), live_node(store, "n2", now)
        reserving = store.dispatch.tick([], first, now)
        assert (reserving.claimed, reserving.reserved) == ([], 1)
        starting = store.dispatch.tick([], second, now)  # the second reservation starts it
        assert [j.gang_id for j in starting.claimed] == [gang.id]

        waking = Claim(first.runner, first.node, slots=0, lease=30.0, reserved=1)
        picked, statements = tick_counted(store, waking, now)
        assert [j.gang_id for j in picked.claimed] == [gang.id]
        assert picked.claimed[0].id != starting.claimed[0].id
        assert picked.reserved == 0
        assert statements <= 3  # BEGIN, the one look, COMMIT
    finally:
        store.close()


def test_a_runner_still_holding_a_reservation_keeps_it(db_path: Path) -> None:
    with Client(db_path) as client:
        client.enqueue_options([EnqueueOptions(command=["true"], gang=2)])
    now = datetime.now(UTC)
    store = open_store(str(db_path))
    try:
        first = live_node(store, "n1", now)
        live_node(store, "n2", now)
        assert store.dispatch.tick([], first, now).reserved == 1
        waking = Claim(first.runner, first.node, slots=0, lease=30.0, reserved=1)
        again = store.dispatch.tick([], waking, now)
        assert (again.claimed, again.reserved) == ([], 1)
    finally:
        store.close()
