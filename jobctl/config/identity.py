"""Who a job runs as: a job type's `user:`/`group:` resolved to ids, the rule that a job
with a configured user never runs as root, and the clean environment it starts with."""

from __future__ import annotations

import grp
import os
import pwd
from dataclasses import dataclass

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
KEPT = ("LANG", "TZ")  # of the daemon's environment, all a job run as another user gets


class IdentityError(Exception):
    """The job cannot run as asked; the message is one line for the operator."""


@dataclass(frozen=True)
class Identity:
    uid: int
    gid: int
    groups: tuple[int, ...]
    name: str


def resolve_identity(user: str | None, group: str | None) -> Identity | None:
    """None: run as the daemon. Otherwise the ids to switch to; IdentityError when the user or
    group is unknown or the daemon cannot switch (it is not root)."""
    if user is None and group is None:
        return None
    try:
        entry = pwd.getpwnam(user) if user is not None else pwd.getpwuid(os.geteuid())
    except KeyError:
        raise IdentityError(f"unknown user {user!r}") from None
    gid = entry.pw_gid
    if group is not None:
        try:
            gid = grp.getgrnam(group).gr_gid
        except KeyError:
            raise IdentityError(f"unknown group {group!r}") from None
    identity = Identity(
        uid=entry.pw_uid,
        gid=gid,
        groups=tuple(os.getgrouplist(entry.pw_name, gid)),
        name=entry.pw_name,
    )
    if os.geteuid() != 0 and (identity.uid != os.geteuid() or identity.gid != os.getegid()):
        who = user if user is not None else f"group {group}"
        raise IdentityError(f"cannot run as {who!r}: the daemon is not running as root")
    return identity


def check_identity(user: str | None, group: str | None) -> str | None:
    """For `config check`: the problem with this user/group here, or None."""
    try:
        resolve_identity(user, group)
    except IdentityError as exc:
        return str(exc)
    return None


def login_env(user: str, daemon_env: dict[str, str]) -> dict[str, str]:
    """The environment a job run as `user` starts with: that user's HOME, USER, LOGNAME and
    SHELL, a default PATH and the daemon's LANG/TZ; nothing else of the daemon's. An unknown
    user gets no account variables (the spawn then fails, naming the user)."""
    env = {key: daemon_env[key] for key in KEPT if key in daemon_env}
    env["PATH"] = DEFAULT_PATH
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return env
    env.update(HOME=entry.pw_dir, USER=entry.pw_name, LOGNAME=entry.pw_name)
    env["SHELL"] = entry.pw_shell or "/bin/sh"
    return env
