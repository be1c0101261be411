"""Pseudo-terminals in tests: read what a child wrote without blocking or waiting."""

from __future__ import annotations

import os
import select


def drain(master: int) -> bytes:
    """Everything the terminal holds right now (b"" if nothing); never blocks, never waits.
    A closed child side (EIO) just ends the read. Poll it with a deadline (`wait_until`)."""
    got = b""
    while select.select([master], [], [], 0)[0]:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every process on the terminal side has closed it
            break
        if not chunk:
            break
        got += chunk
    return got
