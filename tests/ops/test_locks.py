"""Named locks: TTL leases and fencing tokens, `now` injected."""

from __future__ import annotations

import pytest

from jobctl.errors import InvalidInput, NotFound
from jobctl.ops import locks
from jobctl.store import Store
from tests.support.clock import ManualClock


def test_a_held_lock_is_busy_until_released(store: Store, clock: ManualClock) -> None:
    first = locks.acquire(store, "deploy", "alice@a:1", "id1", 60, clock.now())
    assert first.acquired and first.lock.token == 1
    second = locks.acquire(store, "deploy", "bob@b:2", "id2", 60, clock.now())
    assert not second.acquired and second.lock.holder == "alice@a:1"
    assert "alice@a:1" in locks.busy_message(second.lock)
    assert [lk.name for lk in locks.held(store, clock.now())] == ["deploy"]
    assert locks.release(store, "deploy", "id1")
    assert locks.held(store, clock.now()) == []
    third = locks.acquire(store, "deploy", "bob@b:2", "id2", 60, clock.now())
    assert third.acquired and third.lock.token == 2, "the token survives a release"


def test_a_lease_expires_after_its_ttl_unless_renewed(store: Store, clock: ManualClock) -> None:
    locks.acquire(store, "x", "a", "id1", 10, clock.now())
    clock.advance(8)
    assert locks.renew(store, "x", "id1", 10, clock.now())
    clock.advance(8)
    assert not locks.acquire(store, "x", "b", "id2", 10, clock.now()).acquired
    clock.advance(2)
    assert locks.held(store, clock.now()) == []
    got = locks.acquire(store, "x", "b", "id2", 10, clock.now())
    assert got.acquired and got.lock.token == 2
    # the old holder can neither renew nor release the new holder's lock
    assert not locks.renew(store, "x", "id1", 10, clock.now())
    assert not locks.release(store, "x", "id1")
    assert locks.held(store, clock.now())[0].holder == "b"


def test_tokens_strictly_increase_per_name(store: Store, clock: ManualClock) -> None:
    tokens = []
    for n in range(5):
        got = locks.acquire(store, "n", "a", f"id{n}", 5, clock.now())
        tokens.append(got.lock.token)
        if n % 2:
            locks.release(store, "n", f"id{n}")
        else:
            clock.advance(6)  # let the lease expire instead
    assert tokens == [1, 2, 3, 4, 5]
    assert locks.acquire(store, "other", "a", "z", 5, clock.now()).lock.token == 1


def test_force_release_frees_any_holder_and_needs_a_held_lock(
    store: Store, clock: ManualClock
) -> None:
    with pytest.raises(NotFound, match="'stuck' is not held"):
        locks.force_release(store, "stuck", clock.now())
    locks.acquire(store, "stuck", "a", "id1", 3600, clock.now())
    assert locks.force_release(store, "stuck", clock.now()).holder == "a"
    assert locks.acquire(store, "stuck", "b", "id2", 60, clock.now()).acquired


@pytest.mark.parametrize(("name", "ttl"), [("x", 0), ("x", -1), ("", 60), ("a\nb", 60)])
def test_bad_name_or_ttl_is_invalid_input(
    store: Store, clock: ManualClock, name: str, ttl: float
) -> None:
    with pytest.raises(InvalidInput):
        locks.acquire(store, name, "a", "id", ttl, clock.now())
    assert store.locks.get(name) is None


def test_shape_has_the_spec_keys(store: Store, clock: ManualClock) -> None:
    got = locks.acquire(store, "x", "a", "id1", 60, clock.now())
    shape = locks.lock_shape(got.lock)
    assert {"name", "holder", "token", "acquired_at", "expires_at"} <= set(shape)
    assert shape["token"] == 1 and shape["expires_at"].endswith("Z")
