"""Factories for specs and claims (procrastinate style)."""

from __future__ import annotations

from typing import Any

from jobctl.domain.job import JobSpec
from jobctl.store.repos.dispatch import Claim


def job_spec(command: list[str] | None = None, **fields: Any) -> JobSpec:
    return JobSpec(command=command or ["true"], **fields)


def claim(slots: int = 1, runner: str = "node-a:1:x", lease: float = 30.0, **fields: Any) -> Claim:
    return Claim(runner=runner, node=runner.split(":")[0], slots=slots, lease=lease, **fields)
