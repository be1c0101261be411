"""API tokens: hashed secrets with scopes; a revoked token is kept (revoked_at set)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jobctl.domain.durations import from_epoch
from jobctl.errors import InvalidInput
from jobctl.store.database import Conflict, Database


@dataclass(frozen=True)
class ApiToken:
    name: str
    lookup: str
    secret_hash: str
    scopes: tuple[str, ...]
    created_at: datetime
    created_by: str | None = None
    revoked_at: datetime | None = None


def _token(row: Any) -> ApiToken:
    return ApiToken(
        name=row["name"],
        lookup=row["lookup"],
        secret_hash=row["secret_hash"],
        scopes=tuple(s for s in row["scopes"].split(",") if s),
        created_at=from_epoch(row["created_at"]),
        created_by=row["created_by"],
        revoked_at=from_epoch(row["revoked_at"]),
    )


class TokensRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, token: ApiToken) -> None:
        """Store a new live token; InvalidInput when a live token has this name."""
        try:
            with self.db.write() as conn:
                conn.execute(
                    "INSERT INTO api_tokens (name, lookup, secret_hash, scopes, created_at,"
                    " created_by) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        token.name,
                        token.lookup,
                        token.secret_hash,
                        ",".join(token.scopes),
                        token.created_at.timestamp(),
                        token.created_by,
                    ),
                )
        except Conflict:
            raise InvalidInput(
                f"a token named {token.name!r} exists: revoke it first or pick another name"
            ) from None

    def by_lookup(self, lookup: str) -> ApiToken | None:
        """The live token with this public id, or None."""
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT * FROM api_tokens WHERE lookup = ? AND revoked_at IS NULL", (lookup,)
            ).fetchone()
        return None if row is None else _token(row)

    def live(self) -> list[ApiToken]:
        """Live tokens by name."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT * FROM api_tokens WHERE revoked_at IS NULL ORDER BY name"
            ).fetchall()
        return [_token(r) for r in rows]

    def revoke(self, name: str, now: datetime) -> bool:
        """Revoke the live token `name`; False when there is none."""
        with self.db.write() as conn:
            cur = conn.execute(
                "UPDATE api_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                (now.timestamp(), name),
            )
            return cur.rowcount > 0
