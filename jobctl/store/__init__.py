"""The store: all SQL lives in this package. `open_store` picks the backend from the URL;
callers type against the `Store` protocol of store/protocol.py, never a backend."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from jobctl.errors import InvalidInput
from jobctl.store.sqlite import SQLiteStore

if TYPE_CHECKING:
    from jobctl.store.postgres import PostgresStore
    from jobctl.store.protocol import Store

    # Both backends hold the contract (mypy checks these; nothing runs them).
    _SQLITE_HOLDS: type[Store] = SQLiteStore
    _POSTGRES_HOLDS: type[Store] = PostgresStore


def __getattr__(name: str) -> object:
    """`Store` (the protocol) on first use, so that importing the store stays cheap."""
    if name == "Store":
        from jobctl.store.protocol import Store

        return Store
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def is_postgres(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def db_path_from(url_or_path: str) -> Path:
    """A path, `sqlite:///relative.db` or `sqlite:////absolute.db` → Path."""
    if is_postgres(url_or_path):
        raise InvalidInput("a PostgreSQL database has no file path")
    if url_or_path.startswith("sqlite:///"):
        return Path(url_or_path.removeprefix("sqlite:///"))
    if "://" in url_or_path:
        scheme = url_or_path.split("://", 1)[0] + "://"  # the rest may hold a password
        raise InvalidInput(
            f"unsupported database URL scheme {scheme!r}: use a path, sqlite:/// or postgresql://"
        )
    return Path(url_or_path).expanduser()


def shared_db_key(url: str) -> str | None:
    """For a database shared by hosts (PostgreSQL), a short stable name of it (server,
    database and schema; never the password) for this host's own files; None for SQLite,
    whose files live beside the database."""
    if not is_postgres(url):
        return None
    import hashlib  # OpenSSL's: not on the SQLite enqueue path

    from jobctl.store.targets import redact_url

    return "pg-" + hashlib.sha256(redact_url(url).encode()).hexdigest()[:16]


def open_store(url_or_path: str, synchronous: str = "FULL", create: bool = True) -> Store:
    """Open the store at `url_or_path` (a `postgresql://` URL selects PostgreSQL, anything
    else is a SQLite file): creating and migrating it as needed, or, without `create`
    (commands that only read), only an existing one of this jobctl's schema, left as it is
    (NotFound: "no jobctl database at PATH"). A database that is not jobctl's is refused
    either way, unchanged."""
    if is_postgres(url_or_path):
        from jobctl.store.postgres import PostgresStore

        return PostgresStore(url_or_path, create)
    return SQLiteStore(db_path_from(url_or_path), synchronous, create)
