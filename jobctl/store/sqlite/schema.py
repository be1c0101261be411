"""Ordered forward migrations, one SQL file each in `migrations/` (`NNNN_name.sql`, numbered
from 1 without gaps); PRAGMA user_version records how far a DB has come.

Only the file names are read at start-up; a file's text is read when a DB needs it.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def _migration_files() -> list[str]:
    names = sorted(n for n in os.listdir(MIGRATIONS_DIR) if n.endswith(".sql"))
    for number, name in enumerate(names, start=1):
        if not name.startswith(f"{number:04d}_"):
            raise RuntimeError(f"migration {name} is out of sequence: expected {number:04d}_*")
    return names


MIGRATION_FILES = _migration_files()
SCHEMA_VERSION = len(MIGRATION_FILES)


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
    for number, name in enumerate(MIGRATION_FILES, start=1):
        if number > version:
            yield number, name, (MIGRATIONS_DIR / name).read_text(encoding="utf-8")
