"""Read a config file (YAML or TOML, by extension) into data plus a line locator."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobctl.errors import ConfigError

Locator = Callable[[tuple[Any, ...]], int | None]


@dataclass(frozen=True)
class Document:
    """Parsed config data; `line(path)` gives the 1-based line of a key path, if known."""

    path: str
    data: dict[str, Any]
    line: Locator


def read_document(path: str | Path) -> Document:
    """Parse the file; unreadable or malformed → ConfigError naming file:line."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{name}: config file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError([f"{name}: cannot read config: {reason}"]) from None
    if name.endswith(".toml"):
        return _toml(name, text)
    return _yaml(name, text)


def _yaml(name: str, text: str) -> Document:
    import yaml

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark else name
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError([f"{where}: invalid YAML: {problem}"]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([f"{name}:1: the config must be a mapping of sections"])

    def line(path: tuple[Any, ...]) -> int | None:
        current, found = node, None
        for part in path:
            if isinstance(current, yaml.MappingNode):
                pair = next(((k, v) for k, v in current.value if k.value == part), None)
                if pair is None:
                    break
                found, current = pair[0].start_mark.line + 1, pair[1]
            elif isinstance(current, yaml.SequenceNode) and isinstance(part, int):
                if part >= len(current.value):
                    break
                current = current.value[part]
                found = current.start_mark.line + 1
            else:
                break
        return found

    return Document(name, data, line)


def _toml(name: str, text: str) -> Document:
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        where = f"{name}:{match.group(1)}" if match else name
        raise ConfigError([f"{where}: invalid TOML: {exc}"]) from None
    lines = text.splitlines()

    def line(path: tuple[Any, ...]) -> int | None:
        keys = [p for p in path if isinstance(p, str)]
        if not keys:
            return None
        pattern = re.compile(rf"^\s*(\[\[?)?\s*({re.escape(keys[-1])})\b")
        return next((n for n, text in enumerate(lines, 1) if pattern.search(text)), None)

    return Document(name, data, line)
