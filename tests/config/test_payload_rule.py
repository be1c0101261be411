"""A payload is a JSON object, whichever way a job comes in: one rule (domain.check_payload)
in the shared enqueue path, the `--from` lines and the HTTP body."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jobctl.config.model import Config
from jobctl.config.resolve import EnqueueOptions, build_spec, options_from_dict
from jobctl.errors import InvalidInput
from jobctl.runtime.http.jobs_api import options_from_body

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NOT_OBJECTS = [[1, 2], "text", 3, True]


@pytest.mark.parametrize("payload", NOT_OBJECTS, ids=repr)
def test_a_payload_that_is_not_an_object_is_refused_everywhere(payload: object) -> None:
    with pytest.raises(InvalidInput, match="a payload is a JSON object"):
        build_spec(EnqueueOptions(command=["true"], payload=payload), Config())
    with pytest.raises(InvalidInput, match=r"^jobs\.jsonl:3: invalid payload "):
        options_from_dict({"command": ["true"], "payload": payload}, NOW, "jobs.jsonl:3")
    with pytest.raises(InvalidInput, match="a payload is a JSON object"):
        options_from_body({"job_type": "t", "payload": payload}, NOW, "req")


def test_an_object_or_no_payload_is_accepted() -> None:
    assert build_spec(EnqueueOptions(command=["true"], payload={"a": [1]}), Config()).payload == {
        "a": [1]
    }
    assert build_spec(EnqueueOptions(command=["true"]), Config()).payload is None
