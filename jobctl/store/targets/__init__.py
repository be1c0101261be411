"""Sweep targets: the user's database whose rows a sweep deletes. One small protocol, a
dialect per backend (`sqlite.py`, `postgres.py`); all their SQL lives here.

A target keeps a sweep's marks in side tables inside the target DB (never touching the
user's tables or rows until the run), and its progress row there too, updated in the same
transaction as each batch's delete: that row is the truth a resumed run starts from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from jobctl.errors import InvalidInput, JobctlError

STATEMENT_TIMEOUT = 30.0  # seconds one statement evaluating a user's predicate may take


class PredicateTimeout(JobctlError):
    """A statement evaluating the `--where` predicate ran past the statement timeout
    (exit 1: the operation failed; as it stands it would fail again)."""

    def __init__(self, predicate: str, seconds: float, display: str) -> None:
        shown = predicate if len(predicate) <= 120 else predicate[:120] + "..."
        super().__init__(
            f"--where {shown!r} ran longer than the {seconds:g}s statement timeout on"
            f" {display}; nothing was changed by that statement (recursive or unindexed?"
            " --timeout allows longer)"
        )


@dataclass(frozen=True)
class TableRef:
    """A validated, existing table and the columns that identify its rows."""

    name: str
    schema: str | None
    keys: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    """What one sweep deletes: its marks (`token`), table and predicate."""

    token: str
    table: TableRef
    predicate: str


@dataclass(frozen=True)
class TargetProgress:
    marked: int
    done: int
    deleted: int
    skipped: int


@dataclass(frozen=True)
class BatchResult:
    """One committed batch: the cursor after it and what it did; `files` are paths a
    history target collected for removal once the batch has committed."""

    done: int
    deleted: int
    skipped: int
    files: tuple[str, ...] = ()


class Target(Protocol):
    """A database a sweep deletes from. Every method is one short transaction (or none)."""

    display: str  # the URL with any password hidden

    def resolve_table(self, name: str) -> TableRef:
        """The existing table `name` (PostgreSQL: optionally `schema.table`) and its key
        columns; InvalidInput naming it when it is not an ordinary table here."""

    def check_predicate(self, table: TableRef, predicate: str) -> str:
        """Tokenise and compile `predicate` against `table` read-only; the cleaned text,
        or InvalidInput naming it."""

    def count_matching(self, table: TableRef, predicate: str) -> int:
        """Rows matching now (read-only)."""

    def sample_matching(self, table: TableRef, predicate: str, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` matching rows (read-only), for `--dry-run`."""

    def key_chunk(
        self, table: TableRef, predicate: str, after: tuple[Any, ...] | None, size: int
    ) -> list[tuple[Any, ...]]:
        """The next `size` keys of matching rows after `after`, in key order (read-only)."""

    def begin_marks(self, plan: Plan) -> None:
        """Create the side tables if needed and this sweep's progress row (0 marked)."""

    def append_marks(self, plan: Plan, first_seq: int, keys: list[tuple[Any, ...]]) -> None:
        """Record `keys` as marks first_seq, first_seq+1, ... (one short transaction)."""

    def progress(self, plan: Plan) -> TargetProgress | None:
        """This sweep's progress row, or None when its marks are gone."""

    def sweep_batch(self, plan: Plan, limit: int) -> BatchResult:
        """Delete the next `limit` marked rows that still match the predicate, skip the
        others, and move the cursor, all in one short write transaction."""

    def drop_marks(self, plan: Plan) -> None:
        """Forget this sweep's marks and progress row (in short transactions)."""

    def close(self) -> None: ...


def is_postgres(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def normalize_target(url_or_path: str) -> str:
    """The canonical URL of a target: `sqlite:////absolute/path.db` (relative paths are
    resolved now, so a later run from elsewhere finds the same file) or the PostgreSQL URL."""
    text = url_or_path.strip()
    if is_postgres(text):
        return text
    if text.startswith("sqlite:///"):
        path = Path(text.removeprefix("sqlite:///"))
    elif "://" in text:
        raise InvalidInput(
            f"unsupported --target {text!r}: use a path, sqlite:///path.db or postgresql://..."
        )
    else:
        path = Path(text).expanduser()
    if not str(path) or str(path) == ".":
        raise InvalidInput(f"invalid --target {text!r}: no database path")
    return "sqlite:///" + str(path.resolve())


def redact_url(url: str) -> str:
    """The URL with a password, if any, replaced by ***."""
    return re.sub(r"(://[^:/@]+:)[^@/]*@", r"\1***@", url)


def open_target(
    url: str, history: bool = False, statement_timeout: float = STATEMENT_TIMEOUT
) -> Target:
    """Connect to a target given by its canonical URL (see normalize_target). Every
    statement that evaluates the predicate is cut at `statement_timeout` seconds
    (PredicateTimeout). `history`: jobctl's own DB, swept by retention with jobctl's own
    predicates and no timeout (see targets.history)."""
    if history:
        if is_postgres(url):
            from jobctl.store.targets.pg_history import PgHistoryTarget

            return PgHistoryTarget(url)
        from jobctl.store.targets.history import HistoryTarget

        return HistoryTarget(Path(url.removeprefix("sqlite:///")))
    if is_postgres(url):
        from jobctl.store.targets.postgres import PostgresTarget

        return PostgresTarget(url, statement_timeout)
    from jobctl.store.targets.sqlite import SQLiteTarget

    return SQLiteTarget(Path(url.removeprefix("sqlite:///")), statement_timeout=statement_timeout)
