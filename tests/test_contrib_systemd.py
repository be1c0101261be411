"""contrib/systemd: the hardened unit and its cron-compatible drop-in, which lifts exactly the
sandbox settings that break jobs imported from cron; the docs and `schedule import` point to
it."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from jobctl.ops.crontab_import import SANDBOX_NOTE

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "contrib" / "systemd" / "jobctl.service"
DROP_IN = ROOT / "contrib" / "systemd" / "jobctl.service.d" / "cron-compat.conf"
# What cron jobs need (logrotate, apt, man-db, /home, a shared /tmp, set-uid, sudo).
LIFTED = {
    "ProtectSystem": ("strict", "no"),
    "ProtectHome": ("read-only", "no"),
    "PrivateTmp": ("yes", "no"),
    "NoNewPrivileges": ("yes", "no"),
    "RestrictSUIDSGID": ("yes", "no"),
    "ProtectKernelTunables": ("yes", "no"),
    "ProtectControlGroups": ("yes", "no"),
}


def _service(path: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text())
    return dict(parser["Service"])


def test_the_drop_in_lifts_each_setting_that_breaks_cron_jobs_and_nothing_else() -> None:
    unit, drop_in = _service(UNIT), _service(DROP_IN)
    for key, (hardened, lifted) in LIFTED.items():
        assert unit[key] == hardened, f"the unit sets {key}={unit.get(key)}"
        assert drop_in[key] == lifted, f"the drop-in sets {key}={drop_in.get(key)}"
    assert drop_in["ReadWritePaths"] == "", "the strict unit's write list is reset"
    assert set(drop_in) == {*LIFTED, "ReadWritePaths"}


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_reads_the_drop_in_without_complaint() -> None:
    env = {**os.environ, "SYSTEMD_UNIT_PATH": f"{UNIT.parent}:"}
    done = subprocess.run(
        ["systemd-analyze", "verify", "jobctl.service"], env=env, capture_output=True, text=True
    )
    assert DROP_IN.name not in done.stderr + done.stdout, done.stderr


def test_the_import_docs_and_output_point_to_the_drop_in() -> None:
    where = "contrib/systemd/jobctl.service.d/cron-compat.conf"
    assert where in (ROOT / "README.md").read_text()
    assert where in (ROOT / "contrib" / "systemd" / "README.md").read_text()
    assert where in SANDBOX_NOTE
