"""Default locations: XDG for users, /var/lib and /etc for root (SPEC "Global conventions")."""

from __future__ import annotations

import os
from pathlib import Path


def _is_root() -> bool:
    return os.geteuid() == 0


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var)
    return Path(value) if value else Path.home() / fallback


def default_db_path() -> Path:
    if _is_root():
        return Path("/var/lib/jobctl/jobctl.db")
    return _xdg("XDG_STATE_HOME", ".local/state") / "jobctl" / "jobctl.db"


def default_config_path() -> Path:
    if _is_root():
        return Path("/etc/jobctl/config.yaml")
    return _xdg("XDG_CONFIG_HOME", ".config") / "jobctl" / "config.yaml"


def log_dir_for(db_path: Path) -> Path:
    """Attempt logs live next to the DB: jobctl.db → jobctl.logs/."""
    return db_path.with_name(db_path.stem + ".logs")
