"""Placement: a job may say which node (`on_node`) or which tag (`on_tag`) must run it; only
a daemon of that node, or with that tag, claims it. The job's own choice wins over its job
type's, which wins over its queue's."""

from __future__ import annotations

import re
from dataclasses import dataclass

from jobctl.errors import InvalidInput

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+-]{0,127}")


@dataclass(frozen=True)
class Placement:
    on_node: str | None = None
    on_tag: str | None = None

    def __bool__(self) -> bool:
        return self.on_node is not None or self.on_tag is not None

    def matches(self, node: str, tags: frozenset[str] | tuple[str, ...]) -> bool:
        """Whether a daemon of `node` with `tags` may claim the job."""
        if self.on_node is not None and self.on_node != node:
            return False
        return self.on_tag is None or self.on_tag in tags

    def describe(self) -> str:
        """`node n1`, `tag gpu`, or `any node`."""
        if self.on_node is not None:
            return f"node {self.on_node!r}"
        return f"tag {self.on_tag!r}" if self.on_tag is not None else "any node"


def check_name(value: str, what: str) -> str:
    """A node name or tag (letters, digits, `._:@+-`, up to 128); InvalidInput naming `what`
    (e.g. `--on-tag`) and the value otherwise."""
    if not _NAME.fullmatch(str(value)):
        raise InvalidInput(
            f"invalid {what} {value!r}: letters, digits and ._:@+- (starting with a letter or"
            " digit), up to 128 characters"
        )
    return value


def placement(
    on_node: str | None,
    on_tag: str | None,
    where: str = "",
    names: tuple[str, str] = ("--on-node", "--on-tag"),
) -> Placement:
    """A checked placement: a node or a tag, not both (`names`: how the caller spells them)."""
    if on_node is not None and on_tag is not None:
        raise InvalidInput(f"{where}give {names[0]} or {names[1]}, not both")
    return Placement(
        None if on_node is None else check_name(on_node, f"{where}{names[0]}"),
        None if on_tag is None else check_name(on_tag, f"{where}{names[1]}"),
    )


def first(*choices: Placement) -> Placement:
    """The first placement that says something (job, then job type, then queue)."""
    return next((c for c in choices if c), Placement())
