"""Lazy command registration: the root group knows every command's name and module, and
imports a module only when one of its commands runs (or help, completions or docgen walk the
whole tree). `jobctl enqueue` thus loads jobctl.cli.jobs and nothing of the daemon, the HTTP
server or the schedules."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping
from typing import Any

import typer
from typer.core import TyperGroup

from jobctl.cli import resume_collector

# Every top-level command and group, in help order (the order of the former eager imports:
# commands by module, then groups), with the module whose import registers it on `app`.
# tests/cli/test_lazy_commands.py checks this against the commands the modules register.
COMMAND_MODULES: dict[str, str] = {
    "init": "jobctl.cli.admin",
    "audit": "jobctl.cli.audit",
    "daemon": "jobctl.cli.daemon",
    "enqueue": "jobctl.cli.jobs",
    "list": "jobctl.cli.jobs",
    "status": "jobctl.cli.jobs",
    "show": "jobctl.cli.jobs",
    "logs": "jobctl.cli.jobs",
    "retry": "jobctl.cli.jobs",
    "cancel": "jobctl.cli.jobs",
    "wait": "jobctl.cli.jobs",
    "explain": "jobctl.cli.jobs",
    "kafka-lag": "jobctl.cli.kafka",
    "metrics": "jobctl.cli.metrics",
    "health": "jobctl.cli.monitor",
    "smoke": "jobctl.cli.monitor",
    "top": "jobctl.cli.top",
    "config": "jobctl.cli.admin",
    "db": "jobctl.cli.db",
    "lock": "jobctl.cli.locks",
    "node": "jobctl.cli.nodes",
    "notify": "jobctl.cli.notify",
    "once": "jobctl.cli.once",
    "checkpoint": "jobctl.cli.ops",
    "dlq": "jobctl.cli.ops",
    "queue": "jobctl.cli.queues",
    "schedule": "jobctl.cli.schedules",
    "sweep": "jobctl.cli.sweep",
    "token": "jobctl.cli.tokens",
}


def load_all() -> None:
    """Import every command module (what the eager CLI did at start-up)."""
    for module in dict.fromkeys(COMMAND_MODULES.values()):
        importlib.import_module(module)


class _Commands(MutableMapping[str, Any]):
    """The group's click commands by name; reading it as a whole (iterating, len) loads every
    module, so code that walks `group.commands` sees the full tree."""

    def __init__(self, group: LazyGroup, loaded: dict[str, Any]) -> None:
        self._group = group
        self._loaded = loaded

    def __getitem__(self, name: str) -> Any:
        command = self._group.load(name)
        if command is None:
            raise KeyError(name)
        return command

    def __setitem__(self, name: str, command: Any) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self._loaded[name]

    def __contains__(self, name: object) -> bool:
        return name in self._loaded or name in COMMAND_MODULES

    def __iter__(self) -> Iterator[str]:
        self._group.load_every()
        return iter(self._group.ordered())

    def __len__(self) -> int:
        self._group.load_every()
        return len(self._group.ordered())


class LazyGroup(TyperGroup):
    """The root `jobctl` group: lists COMMAND_MODULES and builds a command on first use."""

    def __init__(self, *, commands: Any = None, **attrs: Any) -> None:
        super().__init__(**attrs)
        self._loaded: dict[str, Any] = dict(commands or {})
        self.commands = _Commands(self, self._loaded)

    def ordered(self) -> list[str]:
        """Known names in help order; commands registered outside COMMAND_MODULES last."""
        extra = [n for n in self._loaded if n not in COMMAND_MODULES]
        return [*COMMAND_MODULES, *extra]

    def list_commands(self, ctx: Any) -> list[str]:
        return self.ordered()

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = self.load(cmd_name)
        if not ctx.resilient_parsing:  # the command runs now (main() paused the collector)
            resume_collector()
        return command

    def load(self, name: str) -> Any:
        """The click command `name`: its module imported, and only this command converted
        (typer's conversion reads every parameter's annotations: ~2 ms a command)."""
        if name not in self._loaded and name in COMMAND_MODULES:
            importlib.import_module(COMMAND_MODULES[name])
            command = _convert(name)
            if command is not None:
                self._loaded[name] = command
        return self._loaded.get(name)

    def load_every(self) -> None:
        for name in COMMAND_MODULES:
            self.load(name)


def _resolve_annotations(callback: Any) -> None:
    """Evaluate the callback's string annotations once (typer would evaluate them on every
    one of its several signature reads: half of a command's conversion time)."""
    import typing

    callback.__annotations__ = typing.get_type_hints(callback, include_extras=True)


def _convert(name: str) -> Any:
    """The app's registration `name` as a click command or group, converted the way
    `typer.main.get_command` converts an eager app; None when nothing registered it."""
    from jobctl.cli.app import app

    for info in app.registered_commands:
        assert info.callback is not None
        if (info.name or typer.main.get_command_name(info.callback.__name__)) == name:
            _resolve_annotations(info.callback)
            return typer.main.get_command_from_info(
                info,
                pretty_exceptions_short=app.pretty_exceptions_short,
                rich_markup_mode=app.rich_markup_mode,
            )
    for group_info in app.registered_groups:
        if group_info.name == name:
            return typer.main.get_group_from_info(
                group_info,
                pretty_exceptions_short=app.pretty_exceptions_short,
                rich_markup_mode=app.rich_markup_mode,
                suggest_commands=app.suggest_commands,
            )
    return None
