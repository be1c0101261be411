"""jobctl's own parameters of a `postgresql://` URL: `schema` and `poll`."""

from __future__ import annotations

import pytest

from jobctl.errors import InvalidInput
from jobctl.store.postgres.connection import parse_url


def test_poll_is_seconds_and_leaves_the_conninfo() -> None:
    url = parse_url("postgresql://app@db.example/jobs?poll=1500ms&sslmode=require")
    assert url.poll == 1.5
    assert isinstance(url.poll, float)
    assert url.conninfo == "postgresql://app@db.example/jobs?sslmode=require"


@pytest.mark.parametrize("bad", ["0", "0s", "soon", "-1s"])
def test_a_bad_poll_is_one_error_naming_it(bad: str) -> None:
    with pytest.raises(InvalidInput, match=r"poll.* in the database URL") as caught:
        parse_url(f"postgresql://app@db.example/jobs?poll={bad}")
    assert repr(bad) in str(caught.value)
