"""Guard rails: a dangerous action needs `--confirm` with the exact target (over HTTP:
`{"confirm": "…"}` in the body), or a TTY user typing it at a prompt. Anything else is
refused (exit 4; HTTP 403)."""

from __future__ import annotations

import sys

from jobctl.errors import Refused


def confirm_name(
    action: str, target: str, given: str | None, prompt: bool = True, hint: str = "--confirm {}"
) -> None:
    """Pass when `given` equals `target`, or (with `prompt`) a TTY user types it; else
    Refused, saying how to confirm (`hint`, e.g. `--confirm {}` or `{{"confirm": "{}"}}`)."""
    if given is None and prompt and sys.stdin.isatty() and sys.stderr.isatty():
        sys.stderr.write(f"{action}: type {target!r} to confirm: ")
        sys.stderr.flush()
        given = sys.stdin.readline().strip()
    if given is not None:
        if given != target:
            raise Refused(
                f"{action}: confirmation {given!r} does not match {target!r}; nothing done"
            )
        return
    raise Refused(f"{action} is dangerous: add {hint.format(target)} to proceed; nothing done")


def confirm_count(
    action: str, count: int, given: str | None, prompt: bool = True, hint: str = "--confirm {}"
) -> None:
    """Bulk actions on jobs: the target is the number of jobs affected."""
    confirm_name(f"{action} of {count} jobs", str(count), given, prompt, hint)
