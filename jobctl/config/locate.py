"""Which config file is in force (found without parsing it: a command run without a config
file never loads a parser)."""

from __future__ import annotations

import os
from pathlib import Path

from jobctl.paths import default_config_path


def resolve_config_path(explicit: str | None) -> tuple[Path | None, bool]:
    """(path, required): --config / $JOBCTL_CONFIG must exist; the default path may not."""
    chosen = explicit or os.environ.get("JOBCTL_CONFIG")
    if chosen:
        return Path(chosen), True
    path = default_config_path()
    return (path, False) if path.exists() else (None, False)
