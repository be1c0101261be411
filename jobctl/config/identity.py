"""Who a job runs as: a job type's `user:`/`group:` resolved to ids, and the rule that a
job with a configured user never runs as root."""

from __future__ import annotations

import grp
import os
import pwd
from dataclasses import dataclass


class IdentityError(Exception):
    """The job cannot run as asked; the message is one line for the operator."""


@dataclass(frozen=True)
class Identity:
    uid: int
    gid: int
    groups: tuple[int, ...]
    name: str
    home: str


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
        home=entry.pw_dir,
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
