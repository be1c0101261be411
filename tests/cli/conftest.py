from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.inproc import InProcess


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> InProcess:
    """`jobctl` in this process, with its own DB and (empty) config under tmp_path."""
    return InProcess(tmp_path, capsys)
