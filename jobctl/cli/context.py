"""Per-invocation state: global options, and the Client/Config opened lazily on first use
(so `--help` and usage errors never touch the DB or the config file)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from jobctl.client import Client
    from jobctl.config.model import Config


@dataclass
class AppState:
    db: str | None = None
    config_path: str | None = None
    output: str = "table"
    quiet: bool = False
    verbose: bool = False
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
            from jobctl.config.load import resolve_config_path
            from jobctl.config.model import Config

            path, _required = resolve_config_path(self.config_path)
            if path is None:
                self._config = Config()
            else:
                from jobctl.config.check import load_config

                self._config = load_config(path)
        return self._config

    def client(self) -> Client:
        if self._client is None:
            from jobctl.client import Client

            self._client = Client(self.db, self.config())
        return self._client

    @property
    def db_url(self) -> str:
        from jobctl.paths import default_db_path

        return self.db or os.environ.get("JOBCTL_DB") or str(default_db_path())

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def state(ctx: typer.Context) -> AppState:
    root = ctx.find_root()
    if not isinstance(root.obj, AppState):
        root.obj = AppState()
    return root.obj


def wants_json(ctx: typer.Context, local: str | None) -> bool:
    """`-o json` given after the command wins over the global one."""
    return (local or state(ctx).output) == "json"
