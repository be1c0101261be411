"""Guard rails: a dangerous action needs `--confirm` with the exact target, or a TTY user
typing it at a prompt. Anything else is refused (exit 4)."""

from __future__ import annotations

import sys

from jobctl.errors import Refused


def confirm_name(action: str, target: str, given: str | None) -> None:
    """Pass when `given` equals `target`, or a TTY user types it; else Refused."""
    if given is not None:
        if given != target:
            raise Refused(f"{action}: --confirm {given!r} does not match {target!r}; nothing done")
        return
    if sys.stdin.isatty() and sys.stderr.isatty():
        sys.stderr.write(f"{action}: type {target!r} to confirm: ")
        sys.stderr.flush()
        typed = sys.stdin.readline().strip()
        if typed == target:
            return
        raise Refused(f"{action}: confirmation {typed!r} does not match {target!r}; nothing done")
    raise Refused(f"{action} is dangerous: add --confirm {target} to proceed; nothing done")


def confirm_count(action: str, count: int, given: str | None) -> None:
    """Bulk actions on jobs: the target is the number of jobs affected."""
    confirm_name(f"{action} of {count} jobs", str(count), given)
