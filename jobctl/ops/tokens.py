"""API tokens: create (the secret is shown once), list, revoke, verify.

A token reads `jobctl_<lookup>_<secret>`: `lookup` (8 hex digits) finds the row, the secret
is 32 random bytes. Only the SHA-256 of the whole token is stored, and it is compared in
constant time. The `admin` scope implies every other scope.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from jobctl.errors import InvalidInput, NotFound
from jobctl.store.repos.tokens import ApiToken

if TYPE_CHECKING:
    from jobctl.store.protocol import Store

SCOPES = ("enqueue", "read", "admin")
PREFIX = "jobctl"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
_TOKEN = re.compile(rf"^{PREFIX}_([0-9a-f]{{8}})_([A-Za-z0-9_-]{{43}})$")
_DUMMY_HASH = hashlib.sha256(b"no such token").hexdigest()


@dataclass(frozen=True)
class CreatedToken:
    name: str
    scopes: tuple[str, ...]
    token: str
    created_at: datetime


def parse_scopes(text: str) -> tuple[str, ...]:
    """`enqueue,read` → ('enqueue', 'read'); InvalidInput naming an unknown scope."""
    wanted = [s.strip() for s in text.split(",") if s.strip()]
    if not wanted:
        raise InvalidInput(f"invalid --scope {text!r}: name at least one of {', '.join(SCOPES)}")
    for scope in wanted:
        if scope not in SCOPES:
            raise InvalidInput(f"unknown scope {scope!r}: use {', '.join(SCOPES)}")
    return tuple(s for s in SCOPES if s in wanted)


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise InvalidInput(
            f"invalid token name {name!r}: letters, digits and _.@- (at most 64 characters)"
        )
    return name


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(
    store: Store, name: str, scopes: tuple[str, ...], now: datetime, created_by: str | None
) -> CreatedToken:
    """A new token; its secret exists only in the returned value."""
    check_name(name)
    lookup = secrets.token_hex(4)
    token = f"{PREFIX}_{lookup}_{secrets.token_urlsafe(32)}"
    store.tokens.create(ApiToken(name, lookup, _digest(token), scopes, now, created_by=created_by))
    return CreatedToken(name, scopes, token, now)


def live(store: Store) -> list[ApiToken]:
    """Tokens that are not revoked (never their secrets: only hashes are stored)."""
    return store.tokens.live()


def revoke(store: Store, name: str, now: datetime) -> None:
    """Revoke the live token `name`; NotFound when there is none."""
    if not store.tokens.revoke(name, now):
        raise NotFound(f"no live token named {name!r}")


def verify(store: Store, presented: str) -> ApiToken | None:
    """The live token matching `presented`, or None (malformed, unknown, revoked)."""
    match = _TOKEN.match(presented)
    found = store.tokens.by_lookup(match.group(1)) if match else None
    expected = found.secret_hash if found else _DUMMY_HASH
    if hmac.compare_digest(_digest(presented), expected) and found is not None:
        return found
    return None


def allows(token: ApiToken, scope: str) -> bool:
    """Whether `token` grants `scope` (admin grants all)."""
    return scope in token.scopes or "admin" in token.scopes
