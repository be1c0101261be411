"""What every way of running `jobctl` in tests offers on top of its `run`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.support.cli import Result


class Runs:
    """`ok`, `json` and `enqueue` over a subclass's `run(*args, **kw) -> Result`."""

    def run(self, *args: str, **kw: Any) -> Result:
        raise NotImplementedError

    def ok(self, *args: str, **kw: Any) -> str:
        res = self.run(*args, **kw)
        assert res.rc == 0, f"jobctl {args} exited {res.rc}\n{res.out}\n{res.err}"
        return res.out

    def json(self, *args: str) -> Any:
        return json.loads(self.ok("-o", "json", *args))

    def enqueue(self, *args: str) -> int:
        return int(self.ok("enqueue", *args).strip())
