"""Ordered forward migrations, one SQL file each in `migrations/` (`NNNN_name.sql`); a DB's
PRAGMA user_version is the number of the last migration applied to it.

Only the file names are read at start-up; a file's text is read when a DB needs it.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def _migration_files() -> list[tuple[int, str]]:
    found = []
    for name in os.listdir(MIGRATIONS_DIR):
        if name.endswith(".sql"):
            number = name.split("_", 1)[0]
            if not number.isdigit():
                raise RuntimeError(f"migration {name} does not start with its number (NNNN_)")
            found.append((int(number), name))
    found.sort()
    numbers = [n for n, _ in found]
    if len(set(numbers)) != len(numbers):
        raise RuntimeError(f"two migrations share a number: {[name for _, name in found]}")
    return found


MIGRATION_FILES = _migration_files()
SCHEMA_VERSION = MIGRATION_FILES[-1][0]
# The tables of the first migration: a DB with all of them (and a user_version) is jobctl's.
JOBCTL_TABLES = frozenset({"jobs", "job_deps", "attempts", "dlq", "queues", "daemons"})


def statements(script: str) -> Iterator[str]:
    """Split a SQL script into complete statements (semicolons inside triggers and string
    literals do not end a statement)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            if pending.strip():
                yield pending.strip()
            pending = ""
    if pending.strip() and not all(
        part.strip().startswith("--") or not part.strip() for part in pending.splitlines()
    ):
        raise ValueError(f"incomplete SQL statement at the end of a migration: {pending[:80]!r}")


def migrations_after(version: int) -> Iterator[tuple[int, str, str]]:
    """(number, name, script) of every migration newer than `version`, in order."""
    for number, name in MIGRATION_FILES:
        if number > version:
            yield number, name, (MIGRATIONS_DIR / name).read_text(encoding="utf-8")
