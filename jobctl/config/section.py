"""A config section as a lazily built field of Config: the file's value when one was given,
else the section's default, built on first read. So a command that never reads a section
(`jobctl enqueue` without a config file reads none of health, kafka, notify, shadow_mode)
never loads the module that defines it: ~10 ms of every start-up.

A descriptor-typed dataclass field (see the dataclasses docs): the class attribute is the
descriptor, which dataclass takes as the field's default; `__init__` hands every value,
the default included, to `__set__`; `__get__` turns the default into the section's value."""

from __future__ import annotations

import importlib
from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")


class Section(Generic[T]):
    """The section `module:name` (a class constructed without arguments for its default)."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name
        self.slot = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = f"_section_{name}"

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> Section[T]: ...

    @overload
    def __get__(self, obj: object, owner: type | None = None) -> T: ...

    def __get__(self, obj: object | None, owner: type | None = None) -> Any:
        if obj is None:
            return self  # the field's default: this descriptor, resolved on first read
        try:
            return obj.__dict__[self.slot]
        except KeyError:
            value = getattr(importlib.import_module(self.module), self.name)()
            obj.__dict__[self.slot] = value
            return value

    def __set__(self, obj: object, value: T | Section[T]) -> None:
        if isinstance(value, Section):  # the default: nothing stored (so none is copied)
            obj.__dict__.pop(self.slot, None)
        else:
            obj.__dict__[self.slot] = value
