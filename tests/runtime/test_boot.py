"""The node's boot id: the kernel's, else one derived from the boot time; stable per boot."""

from __future__ import annotations

from pathlib import Path

from jobctl.runtime.boot import BOOT_ID, boot_id


def test_the_kernels_boot_id_is_read_and_stable(tmp_path: Path) -> None:
    given = tmp_path / "boot_id"
    given.write_text("0b1c2d3e-aaaa-bbbb-cccc-000000000001\n")
    assert boot_id(given) == "0b1c2d3e-aaaa-bbbb-cccc-000000000001"
    if BOOT_ID.exists():
        assert boot_id() == boot_id() == BOOT_ID.read_text().strip()


def test_without_the_kernels_id_the_boot_time_stands_in(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-file"
    assert boot_id(missing).startswith("boot-time:")
    assert boot_id(missing) == boot_id(missing)
