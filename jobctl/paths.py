"""Default locations: XDG for users, /var/lib and /etc for root (SPEC "Global conventions"),
and the modes of what jobctl creates there: root-only when running as root."""

from __future__ import annotations

import contextlib
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


def node_dir_for(db_key: str) -> Path:
    """This host's own files for a database shared by hosts (PostgreSQL): attempt output
    spooled before it is kept in the store, and the daemon's single-instance lock. As root
    `/run/jobctl/KEY` (systemd's `$RUNTIME_DIRECTORY` when set); else under
    `$XDG_RUNTIME_DIR` (or the XDG state directory) `jobctl/KEY`. `db_key` names the
    database (server, name and schema), so two clusters on one host never share it."""
    runtime = os.environ.get("RUNTIME_DIRECTORY")
    if runtime:
        return Path(runtime.split(":")[0]) / db_key
    if _is_root():
        return Path("/run/jobctl") / db_key
    base = os.environ.get("XDG_RUNTIME_DIR")
    root = Path(base) if base else _xdg("XDG_STATE_HOME", ".local/state")
    return root / "jobctl" / db_key


def root_only() -> bool:
    """Whether what jobctl creates must be root-only (0600 files, 0700 directories): as root,
    the DB, logs, backups and config hold what no job run as another user may read."""
    return _is_root()


def file_mode(usual: int = 0o644) -> int:
    """The mode for a file jobctl creates: 0600 as root, else `usual` (less the umask)."""
    return 0o600 if root_only() else usual


def make_dirs(path: Path) -> None:
    """Create directory `path` and its missing parents; as root each one created is 0700."""
    mode = 0o700 if root_only() else 0o777
    missing = []
    while not path.is_dir() and path != path.parent:
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        directory.mkdir(mode=mode, exist_ok=True)


def create_file(path: Path, usual: int = 0o644) -> None:
    """Create an empty `path` with file_mode(usual) unless it exists, so that whoever opens it
    next (SQLite: also for its -wal and -shm files) keeps that mode."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, flags, file_mode(usual)))


def working_directory() -> str:
    """This process's working directory: where a job enqueued from here runs by default
    (as with at(1)). InvalidInput when it no longer exists."""
    from jobctl.errors import InvalidInput

    try:
        return os.getcwd()
    except OSError:
        raise InvalidInput("the current directory no longer exists: give --cwd DIR") from None
