"""The one queue-name rule (SPEC: `[A-Za-z0-9_.:-]{1,64}`), shared by HTTP, CLI and config."""

from __future__ import annotations

import pytest

from jobctl.domain.queues import check_queue_name, is_queue_name
from jobctl.errors import InvalidInput


@pytest.mark.parametrize("name", ["default", "a", "x" * 64, "billing.eu-1:high", "A_b-9"])
def test_names_inside_the_rule(name: str) -> None:
    assert is_queue_name(name) and check_queue_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "x" * 65, "a b", "ä", "a/b", "\x1b[31m", "q\n", "<script>", "1²", None, 5],
)
def test_names_outside_the_rule_are_invalid_input_naming_them(name: object) -> None:
    assert not is_queue_name(name)
    with pytest.raises(InvalidInput, match="invalid queue name") as caught:
        check_queue_name(name)
    assert repr(name)[:20] in str(caught.value)
    assert "\n" not in str(caught.value) and "\x1b" not in str(caught.value)


def test_a_huge_name_is_shown_cut_short() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_queue_name("q" * 100_000)
    assert len(str(caught.value)) < 200
