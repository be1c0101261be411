"""schemathesis against a running daemon's /openapi.json (the test extra installs it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "unsupported_method",
)


def schemathesis(url: str, token: str, cwd: Path, examples: int, *more: str) -> None:
    """Fuzz the API at `url` with `token` (seed 7, coverage and fuzzing phases): every
    check passes. Skips without schemathesis locally, fails under CI."""
    st = shutil.which("schemathesis", path=os.path.dirname(sys.executable))
    if st is None:
        if os.environ.get("CI"):
            pytest.fail("schemathesis is not installed (the test extra)")
        pytest.skip("schemathesis is not installed (pip install -e '.[test]')")
    argv = [st, "run", f"{url}/openapi.json", "-H", f"Authorization: Bearer {token}"]
    argv += ["--checks", ",".join(CHECKS), "--max-examples", str(examples), "--seed", "7"]
    argv += ["--phases", "coverage,fuzzing", "--request-timeout", "10", *more]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=180, cwd=cwd)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
