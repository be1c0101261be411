"""Placement from config: a job's own choice, else its job type's, else its queue's."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobctl.config.check import load_config
from jobctl.config.resolve import EnqueueOptions, build_spec
from jobctl.errors import InvalidInput


def _config(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return load_config(path)


CONFIG = """
daemon:
  tags: [gpu, ssd]
queues:
  - {name: train, on_tag: gpu}
  - {name: plain}
job_types:
  - {name: backup, command: "true", queue: plain, on_node: db1}
  - {name: fit, command: "true", queue: train}
schedules:
  - {name: nightly, cron: "@daily", command: "true", on_tag: ssd}
"""


def test_job_then_job_type_then_queue(tmp_path: Path) -> None:
    config = _config(tmp_path, CONFIG)
    assert config.daemon.tags == ("gpu", "ssd")

    def where(**options: object) -> tuple[str | None, str | None]:
        spec = build_spec(EnqueueOptions(**options), config)  # type: ignore[arg-type]
        return spec.on_node, spec.on_tag

    assert where(command=["true"], queue="train") == (None, "gpu")
    assert where(job_type="backup") == ("db1", None)
    assert where(job_type="fit") == (None, "gpu")
    assert where(job_type="backup", on_tag="x") == (None, "x")
    assert where(command=["true"], queue="plain") == (None, None)


def test_config_schedules_carry_their_placement(tmp_path: Path) -> None:
    from jobctl.config.schedules import config_schedules, fire_options

    (nightly,) = config_schedules(_config(tmp_path, CONFIG).schedules)
    assert nightly.on_tag == "ssd"
    assert fire_options(nightly).on_tag == "ssd"


def test_both_a_node_and_a_tag_is_a_problem_naming_the_keys(tmp_path: Path) -> None:
    bad = "queues:\n  - {name: q, on_node: a, on_tag: b}\n"
    with pytest.raises(InvalidInput, match="give on_node or on_tag, not both"):
        _config(tmp_path, bad)
    with pytest.raises(InvalidInput, match="invalid tag"):
        _config(tmp_path, "daemon:\n  tags: ['a b']\n")
