"""`jobctl db backup PATH` (online, consistent) and `jobctl db check` (integrity, schema)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from jobctl.errors import InvalidInput, Refused, StoreError
from jobctl.store import db_path_from, is_postgres, maintenance
from jobctl.store.maintenance import Copied


@dataclass(frozen=True)
class CheckReport:
    path: str
    ok: bool
    integrity: list[str]
    quick: list[str]
    schema_version: int | None
    expected_version: int
    invariants: list[str]  # ["ok"] when they hold; [] when not run (not a jobctl database)
    problems: list[str]  # any of these makes the check fail
    notes: list[str]  # worth knowing, not a failure (an older schema migrates on next use)


def backup(db_url: str, dest: str, force: bool = False) -> Copied:
    """Back the database at `db_url` up to the SQLite file `dest`: a consistent copy even
    while daemons write. An existing `dest` is Refused unless `force`; an unwritable place
    is StoreError naming it."""
    target = Path(dest).expanduser()
    if not dest.strip():
        raise InvalidInput("db backup: give a PATH for the copy")
    if not is_postgres(db_url) and target.resolve() == db_path_from(db_url).resolve():
        raise InvalidInput(f"db backup: {target} is the database itself")
    if target.is_dir():
        raise InvalidInput(f"db backup: {target} is a directory: give a file name")
    if target.exists() and not force:
        raise Refused(f"db backup: {target} exists: add --force to replace it; nothing done")
    parent = target.parent
    if not parent.is_dir():
        raise StoreError(f"cannot write backup {target}: no directory {parent}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise StoreError(f"cannot write backup {target}: {parent} is not writable")
    return maintenance.backup(db_url, target)


def check(db_url: str) -> CheckReport:
    """Integrity of the database at `db_url`, its schema version against this jobctl's and
    the invariants between its tables; `ok` when no problem."""
    found = maintenance.check(db_url)
    problems = [f"integrity_check: {r}" for r in found.integrity if r != "ok"]
    problems += [f"quick_check: {r}" for r in found.quick if r != "ok"]
    problems += [f"invariant: {r}" for r in found.invariants if r != "ok"]
    if not found.jobctl_tables and not problems:
        problems.append("not a jobctl database (no jobctl tables)")
    version, expected = found.schema_version, found.expected_version
    notes: list[str] = []
    if version is not None and found.jobctl_tables:
        if version > expected:
            problems.append(
                f"schema version {version} is newer than this jobctl knows ({expected}):"
                " upgrade jobctl"
            )
        elif version < expected:
            notes.append(
                f"schema version {version} is older than this jobctl's ({expected}):"
                " any jobctl command that writes migrates it"
            )
    return CheckReport(
        found.where,
        not problems,
        found.integrity,
        found.quick,
        version,
        expected,
        found.invariants,
        problems,
        notes,
    )
