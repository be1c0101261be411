"""Named locks: a lease with a TTL, renewed while its holder works, and a fencing token that
grows with every acquisition of the name. Functions over the store with `now` passed in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jobctl.domain.durations import iso_z
from jobctl.errors import InvalidInput, NotFound
from jobctl.store.repos.locks import LockInfo

if TYPE_CHECKING:
    from jobctl.store.protocol import Store

DEFAULT_TTL = 60.0
MIN_TTL = 0.3  # renewals every ttl/3 must stay meaningful


@dataclass(frozen=True)
class Acquired:
    acquired: bool
    lock: LockInfo  # ours when acquired, else the holder's


def validate(name: str, ttl: float) -> None:
    """A usable lock name and TTL, or InvalidInput naming the bad value."""
    if not name or not name.strip() or any(ch in name for ch in "\n\r\0"):
        raise InvalidInput(f"invalid lock name {name!r}")
    if ttl < MIN_TTL:
        raise InvalidInput(f"invalid --ttl {ttl:g}s: a lock needs at least {MIN_TTL:g}s")


def acquire(
    store: Store, name: str, holder: str, holder_id: str, ttl: float, now: datetime
) -> Acquired:
    """Take `name` if free (or its lease expired); the new fencing token is `lock.token`."""
    validate(name, ttl)
    acquired, lock = store.locks.acquire(name, holder, holder_id, ttl, now)
    return Acquired(acquired, lock)


def renew(store: Store, name: str, holder_id: str, ttl: float, now: datetime) -> bool:
    """Push the lease to now + ttl; False when the lock was taken from us."""
    return store.locks.renew(name, holder_id, ttl, now)


def release(store: Store, name: str, holder_id: str) -> bool:
    """Release our own lock (no-op when it is no longer ours)."""
    return store.locks.release(name, holder_id)


def held(store: Store, now: datetime) -> list[LockInfo]:
    return store.locks.held(now)


def held_lock(store: Store, name: str, now: datetime) -> LockInfo:
    """The live lock `name`, or NotFound."""
    lock = store.locks.get(name)
    if lock is None or lock.holder_id is None or lock.expires_at is None or lock.expires_at <= now:
        raise NotFound(f"lock {name!r} is not held")
    return lock


def force_release(store: Store, name: str, now: datetime) -> LockInfo:
    """Free `name` whoever holds it (an operator's action after a stuck holder)."""
    lock = held_lock(store, name, now)
    store.locks.release(name)
    return lock


def busy_message(lock: LockInfo) -> str:
    return f"lock {lock.name!r} is held by {lock.holder} until {iso_z(lock.expires_at)}"


def lock_shape(lock: LockInfo) -> dict[str, Any]:
    """SPEC "JSON shapes": lock (plus ttl)."""
    return {
        "name": lock.name,
        "holder": lock.holder,
        "token": lock.token,
        "acquired_at": iso_z(lock.acquired_at),
        "expires_at": iso_z(lock.expires_at),
        "ttl": lock.ttl,
    }
