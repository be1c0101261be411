"""Decimal numbers in text from outside (paths, arguments, environment).

`str.isdigit` is true for '²' and '٣' too, and `int()` refuses the first and reads the
second; a number here is ASCII digits only.
"""

from __future__ import annotations

import re

_DIGITS = re.compile(r"[0-9]+")


def parse_digits(text: str, max_digits: int = 19) -> int | None:
    """The number `text` spells in ASCII digits (at most `max_digits`), else None."""
    if len(text) > max_digits or not _DIGITS.fullmatch(text):
        return None
    return int(text)
