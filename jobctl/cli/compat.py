"""The click that typer uses: typer ≥ 0.29 vendors it as `typer._click`, older ones use click."""

from __future__ import annotations

try:  # typer >= 0.29
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - older typer
    from click import exceptions as click_exceptions  # type: ignore[no-redef]

UsageError = click_exceptions.UsageError
