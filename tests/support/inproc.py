"""Run `jobctl` in this process through `jobctl.cli.main` (the real parsing, rendering and
error → exit-code edge), with its own DB and config under tmp_path: fast CLI tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobctl.cli import main
from tests.support.cli import TRACEBACK, Result
from tests.support.runs import Runs


class InProcess(Runs):
    """`jobctl --db DB --config CONFIG …` with stdout/stderr captured by pytest's capsys."""

    def __init__(self, tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.tmp, self.capsys = tmp, capsys
        self.db = tmp / "jobctl.db"
        self.config = tmp / "config.yaml"
        if not self.config.exists():
            self.config.write_text("")

    def run(self, *args: str) -> Result:
        self.capsys.readouterr()  # drop anything printed before
        try:
            main(["--db", str(self.db), "--config", str(self.config), *args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        else:  # pragma: no cover - main always exits
            code = 0
        out, err = self.capsys.readouterr()
        assert TRACEBACK not in err, err
        return Result(code, out, err)
