"""Which boot of the node this is: `@reboot` schedules fire once per boot, not per start."""

from __future__ import annotations

from pathlib import Path

BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def boot_id(path: Path = BOOT_ID) -> str:
    """The kernel's id of the current boot; where there is none, one built from the boot time."""
    try:
        text = path.read_text().strip()
    except OSError:
        text = ""
    if text:
        return text
    import psutil

    return f"boot-time:{int(psutil.boot_time())}"
