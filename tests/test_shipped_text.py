"""No shipped text tells anyone to `pip install jobctl` from the public package index: that
name belongs to an unrelated project. jobctl installs from its checkout or a built wheel."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ("README.md", "pyproject.toml", "contrib", "jobctl", "man", "completions", "bench")
# `pip install jobctl`, `pip3 install -U 'jobctl[kafka]'`: the bare name, not a path or wheel
BARE_NAME = re.compile(
    r"""\bpip3?\s+install\s+(?:-\S+\s+)*["']?jobctl(?:\[[^\]]*\])?(?=["'\s`]|$)"""
)


def _texts() -> list[Path]:
    found = []
    for name in SHIPPED:
        path = ROOT / name
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        found += [p for p in files if "__pycache__" not in p.parts]
    return found


def test_no_shipped_text_installs_jobctl_by_its_bare_name() -> None:
    offenders = []
    for path in _texts():
        text = path.read_text(errors="replace")
        offenders += [f"{path.relative_to(ROOT)}: {m.group(0)}" for m in BARE_NAME.finditer(text)]
    assert offenders == []


def test_the_pattern_tells_a_bare_name_from_a_path() -> None:
    bare = ["pip install jobctl", "pip3 install -U 'jobctl[kafka]'", "pip install jobctl[kafka]"]
    paths = [
        "pip install .",
        "pip install '.[kafka]'",
        "pip install /opt/src/jobctl",
        "pip install dist/jobctl-0.1.0-py3-none-any.whl",
        "pip install jobctl-0.1.0.tar.gz",
    ]
    assert [bool(BARE_NAME.search(t)) for t in bare] == [True] * len(bare)
    assert [bool(BARE_NAME.search(t)) for t in paths] == [False] * len(paths)
