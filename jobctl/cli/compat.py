"""The click that typer uses: typer ≥ 0.29 vendors it as `typer._click`, older ones use click."""

from __future__ import annotations

try:  # typer >= 0.29
    from typer._click import exceptions as click_exceptions
    from typer._click.core import Context
except ImportError:  # pragma: no cover - older typer
    from click import exceptions as click_exceptions  # type: ignore[no-redef]
    from click.core import Context  # type: ignore[assignment]

try:  # the vendored click has no Choice: typer's own stands in
    from typer._types import TyperChoice as Choice
except ImportError:  # pragma: no cover - older typer
    from click.types import Choice  # type: ignore[assignment]

UsageError = click_exceptions.UsageError

__all__ = ["Choice", "Context", "UsageError"]
