"""jobctl: a scheduler and ops toolkit for single hosts and small clusters."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Client", "__version__"]

if TYPE_CHECKING:
    from jobctl.client import Client


def __getattr__(name: str) -> Any:
    # Lazy: `import jobctl` stays cheap for the CLI's start-up path.
    if name == "Client":
        from jobctl.client import Client

        return Client
    raise AttributeError(name)
