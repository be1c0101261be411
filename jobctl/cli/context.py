"""Per-invocation state: global options, and the Client/Config opened lazily on first use
(so `--help` and usage errors never touch the DB or the config file)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from jobctl.cli.compat import Context as ClickContext
    from jobctl.client import Client
    from jobctl.config.model import Config
    from jobctl.store.protocol import Store

# Commands that only read the DB (SPEC "Global conventions"; `config check` and `schedule
# next` use one only if it exists), and `smoke`, whose canary needs a DB a daemon already
# serves: they open an existing jobctl DB as it is, never creating, converting or migrating
# it; a missing one is "no jobctl database at PATH" (exit 3). The `node` actions too: a node
# exists only in a DB a daemon has served. Every other command creates the DB on first use.
EXISTING_DB_COMMANDS = frozenset(
    {
        "status", "list", "show", "logs", "explain", "wait", "audit", "top", "metrics",
        "schedule list", "schedule show", "schedule missed", "schedule next", "schedule export",
        "dlq list", "dlq show", "once list", "once show", "lock list", "sweep list",
        "sweep show", "queue list", "token list", "checkpoint get", "db check",
        "config check", "smoke", "node list", "node drain", "node resume", "node forget",
        "notify list", "notify show",
    }
)  # fmt: skip


@dataclass
class AppState:
    db: str | None = None
    config_path: str | None = None
    output: str = "table"
    quiet: bool = False
    verbose: bool = False
    command: str = ""  # the running command below `jobctl`, e.g. "schedule list"
    _config: Config | None = field(default=None, repr=False)
    _client: Client | None = field(default=None, repr=False)
    _request_id: str | None = field(default=None, repr=False)

    @property
    def request_id(self) -> str:
        """One id per invocation: audit entries, enqueued jobs and daemon log lines share it."""
        if self._request_id is None:
            from jobctl.ops.audit import new_request_id

            self._request_id = new_request_id()
        return self._request_id

    def config(self) -> Config:
        if self._config is None:
            from jobctl.config.locate import resolve_config_path
            from jobctl.config.model import Config

            path, _required = resolve_config_path(self.config_path)
            if path is None:
                self._config = Config()
            else:
                from jobctl.config.check import load_config

                self._config = load_config(path)
        return self._config

    def client(self) -> Client:
        """The Client of this invocation; its DB opens as the running command declares
        (EXISTING_DB_COMMANDS)."""
        if self._client is None:
            from jobctl.client import Client

            create = self.command not in EXISTING_DB_COMMANDS
            self._client = Client(self.db, self.config(), create=create)
        return self._client

    def store_if_any(self) -> Store | None:
        """The DB when one exists at the path, else None: for commands that need none but
        use one that is there (`config check`, `schedule next`: EXISTING_DB_COMMANDS, so
        that it is opened as it is)."""
        from jobctl.errors import NotFound

        try:
            return self.client().store
        except NotFound:
            return None

    @property
    def db_url(self) -> str:
        from jobctl.paths import default_db_path

        return self.db or os.environ.get("JOBCTL_DB") or str(default_db_path())

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def state(ctx: typer.Context) -> AppState:
    """The invocation's state; called with a command's context, it also notes the command
    (`schedule list`), which decides how the DB opens (EXISTING_DB_COMMANDS)."""
    root = ctx.find_root()
    if not isinstance(root.obj, AppState):
        root.obj = AppState()
    if ctx is not root:
        names: list[str] = []
        node: ClickContext = ctx
        while node.parent is not None:
            names.append(node.info_name or "")
            node = node.parent
        root.obj.command = " ".join(reversed(names))
    return root.obj


def wants_json(ctx: typer.Context, local: str | None) -> bool:
    """`-o json` given after the command wins over the global one."""
    return (local or state(ctx).output) == "json"
