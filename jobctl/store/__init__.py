"""The store: all SQL lives in this package. `open_store` picks the backend from the URL."""

from __future__ import annotations

from pathlib import Path

from jobctl.errors import InvalidInput
from jobctl.store.sqlite import SQLiteStore

Store = SQLiteStore


def db_path_from(url_or_path: str) -> Path:
    """A path, `sqlite:///relative.db` or `sqlite:////absolute.db` → Path."""
    if url_or_path.startswith(("postgresql://", "postgres://")):
        raise InvalidInput(
            f"the PostgreSQL store is not available yet: {url_or_path.split('@')[-1]!r}"
            " (use a SQLite path)"
        )
    if url_or_path.startswith("sqlite:///"):
        return Path(url_or_path.removeprefix("sqlite:///"))
    if "://" in url_or_path:
        raise InvalidInput(f"unsupported database URL {url_or_path!r}: use a path or sqlite:///")
    return Path(url_or_path).expanduser()


def open_store(url_or_path: str, synchronous: str = "FULL", create: bool = True) -> Store:
    """Open the store at `url_or_path`: creating and migrating it as needed, or, without
    `create` (commands that only read), only an existing one of this jobctl's schema, left
    as it is (NotFound: "no jobctl database at PATH"). A database that is not jobctl's is
    refused either way, unchanged."""
    return SQLiteStore(db_path_from(url_or_path), synchronous, create)
