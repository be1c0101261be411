"""API tokens: hashed at rest, verified in constant time, scopes, revocation."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from jobctl.errors import InvalidInput, NotFound
from jobctl.ops import tokens
from jobctl.store import Store

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def test_create_shows_the_secret_once_and_stores_only_a_hash(store: Store, db_path: Path) -> None:
    made = tokens.create(store, "svc", ("enqueue", "read"), NOW, "alice")
    assert made.token.startswith("jobctl_") and len(made.token) > 50
    store.close()
    raw = b"".join(p.read_bytes() for p in db_path.parent.glob("jobctl.db*"))
    secret = made.token[len("jobctl_12345678_") :]  # the secret may contain "_" itself
    assert len(secret) == 43
    assert secret.encode() not in raw and made.token.encode() not in raw


def test_verify_accepts_the_token_and_refuses_anything_else(store: Store) -> None:
    made = tokens.create(store, "svc", ("read",), NOW, None)
    found = tokens.verify(store, made.token)
    assert found is not None and found.name == "svc" and found.scopes == ("read",)
    lookup = made.token.split("_")[1]
    tampered = made.token[:-1] + ("A" if made.token[-1] != "A" else "B")
    for bad in (tampered, f"jobctl_{lookup}_" + "x" * 43, "jobctl_zz", "", "Bearer x"):
        assert tokens.verify(store, bad) is None, bad


def test_scopes_and_admin(store: Store) -> None:
    assert tokens.parse_scopes("read, enqueue") == ("enqueue", "read")
    with pytest.raises(InvalidInput, match="'write'"):
        tokens.parse_scopes("read,write")
    with pytest.raises(InvalidInput):
        tokens.parse_scopes(" , ")
    reader = tokens.verify(store, tokens.create(store, "r", ("read",), NOW, None).token)
    boss = tokens.verify(store, tokens.create(store, "b", ("admin",), NOW, None).token)
    assert reader is not None and boss is not None
    assert tokens.allows(reader, "read") and not tokens.allows(reader, "enqueue")
    assert tokens.allows(boss, "enqueue") and tokens.allows(boss, "read")


def test_names_are_unique_among_live_tokens_and_revoke_frees_them(store: Store) -> None:
    first = tokens.create(store, "svc", ("read",), NOW, None)
    with pytest.raises(InvalidInput, match="'svc'"):
        tokens.create(store, "svc", ("read",), NOW, None)
    tokens.revoke(store, "svc", NOW)
    assert tokens.verify(store, first.token) is None
    assert [t.name for t in tokens.live(store)] == []
    with pytest.raises(NotFound):
        tokens.revoke(store, "svc", NOW)
    second = tokens.create(store, "svc", ("read",), NOW, None)
    assert tokens.verify(store, second.token) is not None


@pytest.mark.parametrize("name", ["", "a b", "x" * 65, "-lead", "semi;colon"])
def test_bad_names_are_invalid_input(store: Store, name: str) -> None:
    with pytest.raises(InvalidInput):
        tokens.create(store, name, ("read",), NOW, None)
