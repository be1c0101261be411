from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import TRACEBACK, Jobctl


@pytest.fixture
def jc(tmp_path: Path) -> Iterator[Jobctl]:
    j = Jobctl(tmp_path)
    yield j
    j.stop_daemons()
    for index in range(len(j.daemons)):
        assert TRACEBACK not in j.daemon_log(index), j.daemon_log(index)
