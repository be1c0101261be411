"""Bearer tokens on HTTP requests: 401 without or with a bad token, 403 without the scope."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jobctl.ops import tokens
from jobctl.runtime.http.messages import Response
from jobctl.store.repos.tokens import ApiToken

if TYPE_CHECKING:
    from jobctl.store.protocol import Store

REALM = 'Bearer realm="jobctl"'


def _challenge(message: str, error: str | None = None) -> Response:
    header = f'{REALM}, error="{error}"' if error else REALM
    return Response.error(401, message, headers={"WWW-Authenticate": header})


def authorize(store: Store, headers: Any, scope: str) -> ApiToken | Response:
    """The token presented in `Authorization: Bearer …` if it grants `scope`, else the
    401/403 response to send."""
    header = headers.get("Authorization") or ""
    scheme, _, presented = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        return _challenge("a bearer token is required (Authorization: Bearer TOKEN)")
    token = tokens.verify(store, presented.strip())
    if token is None:
        return _challenge("invalid or revoked token", "invalid_token")
    if not tokens.allows(token, scope):
        return Response.error(403, f"token {token.name!r} lacks the {scope!r} scope")
    return token
