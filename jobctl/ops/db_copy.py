"""`jobctl db copy SRC DEST`: a whole jobctl database into an empty one, SQLite or
PostgreSQL either way (how a host grows into a cluster, or a cluster's data comes home).

All or nothing: the source is read in one snapshot and left as it is; the destination is
written in one transaction that also records the copy in its audit log (its only audit
entry: a refused or failed copy changed nothing anywhere, so it is recorded nowhere)."""

from __future__ import annotations

from collections.abc import Callable

from jobctl.clock import utcnow
from jobctl.domain.audit import AuditEntry
from jobctl.errors import InvalidInput
from jobctl.ops.audit import current_actor, entry
from jobctl.store import db_path_from, is_postgres
from jobctl.store.copy import CopyResult, Step, copy_database, shown


def copy(
    src: str, dest: str, request_id: str, on_progress: Callable[[Step], None] | None = None
) -> CopyResult:
    """Copy the jobctl database at `src` into `dest` (created when missing). NotFound
    without a source, Refused when `dest` holds any row, InvalidInput for a bad URL or
    path, Unavailable when a server cannot be reached."""
    for name, value in (("SRC", src), ("DEST", dest)):
        if not value.strip():
            raise InvalidInput(f"db copy: give {name}: a path or a postgresql:// URL")
        if not is_postgres(value) and db_path_from(value).is_dir():
            raise InvalidInput(f"db copy: {db_path_from(value)} is a directory: give a file")

    def audit(tables: dict[str, int]) -> AuditEntry:
        args = {"source": shown(src), "rows": sum(tables.values()), "tables": tables}
        return entry(utcnow(), current_actor(), request_id, "db.copy", shown(dest), args)

    return copy_database(src, dest, on_progress, audit)
