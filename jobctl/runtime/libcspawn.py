"""glibc's posix_spawn through ctypes, for what os.posix_spawn cannot do: start in a cwd
(posix_spawn_file_actions_addchdir_np, glibc >= 2.29) and close every other fd
(addclosefrom_np, glibc >= 2.34), as Popen(cwd=..., close_fds=True) does, at vfork + exec cost.

The child: stdin/stdout/stderr from the given fds, nothing else open, in `cwd`, leader of a
new session, an empty signal mask and SIGPIPE/SIGXFSZ at their default actions. Exec errors
are reported synchronously (glibc's posix_spawn returns the child's errno). The attributes
never change: they are built once. ctypes releases the GIL while the child starts.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
from array import array

_SETSIGDEF, _SETSIGMASK, _SETSID = 0x04, 0x08, 0x80  # glibc's POSIX_SPAWN_* flags
# Python ignores these; a child must start with the default actions (as Popen restores them).
DEFAULT_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ)
# Opaque glibc types, sized with room to spare (x86-64: 80 and 336 bytes).
_ACTIONS_SIZE, _ATTR_SIZE, _SIGSET_SIZE = 256, 1024, 256
_ENCODING, _ERRORS = sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()


def _load() -> ctypes.CDLL | None:
    libc = ctypes.CDLL(None, use_errno=True)
    names = (
        "posix_spawn", "posix_spawn_file_actions_init", "posix_spawn_file_actions_destroy",
        "posix_spawn_file_actions_adddup2", "posix_spawn_file_actions_addchdir_np",
        "posix_spawn_file_actions_addclosefrom_np", "posix_spawnattr_init",
        "posix_spawnattr_setflags", "posix_spawnattr_setsigdefault",
        "posix_spawnattr_setsigmask", "sigemptyset", "sigaddset",
    )  # fmt: skip
    if not sys.platform.startswith("linux") or not all(hasattr(libc, n) for n in names):
        return None
    return libc


_libc = _load()
AVAILABLE = _libc is not None


def _attributes(libc: ctypes.CDLL) -> ctypes.Array[ctypes.c_char]:
    attr = ctypes.create_string_buffer(_ATTR_SIZE)
    default = ctypes.create_string_buffer(_SIGSET_SIZE)
    empty = ctypes.create_string_buffer(_SIGSET_SIZE)
    libc.sigemptyset(default)
    libc.sigemptyset(empty)
    for sig in DEFAULT_SIGNALS:
        libc.sigaddset(default, int(sig))
    checks = (
        libc.posix_spawnattr_init(attr),
        libc.posix_spawnattr_setflags(attr, ctypes.c_short(_SETSIGDEF | _SETSIGMASK | _SETSID)),
        libc.posix_spawnattr_setsigdefault(attr, default),
        libc.posix_spawnattr_setsigmask(attr, empty),
    )
    if any(checks):
        raise OSError(max(checks), os.strerror(max(checks)))
    return attr


if _libc is not None:
    _ATTR = _attributes(_libc)
    _spawn = _libc.posix_spawn
    _spawn.argtypes = (ctypes.POINTER(ctypes.c_int), ctypes.c_char_p, ctypes.c_void_p,
                       ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)  # fmt: skip
    _init = _libc.posix_spawn_file_actions_init
    _destroy = _libc.posix_spawn_file_actions_destroy
    _dup2 = _libc.posix_spawn_file_actions_adddup2
    _chdir = _libc.posix_spawn_file_actions_addchdir_np
    _chdir.argtypes = (ctypes.c_void_p, ctypes.c_char_p)
    _closefrom = _libc.posix_spawn_file_actions_addclosefrom_np


class _Entries(dict[tuple[str, str], int]):
    """(name, value) -> the address of its NAME=VALUE bytes, kept alive here: the environment
    of a spawn is mostly the same variables as the last one's, so each is encoded once."""

    def __init__(self) -> None:
        super().__init__()
        self._keep: list[ctypes.c_char_p] = []

    def __missing__(self, item: tuple[str, str]) -> int:
        name, value = item
        if type(name) is str and type(value) is str:
            if not name or "=" in name:
                raise ValueError("illegal environment variable name")
            raw = f"{name}={value}".encode(_ENCODING, _ERRORS)
        else:  # bytes or path-likes (TypeError for anything else)
            raw_name = os.fsencode(name)
            if not raw_name or b"=" in raw_name:
                raise ValueError("illegal environment variable name")
            raw = raw_name + b"=" + os.fsencode(value)
        if b"\0" in raw:
            raise ValueError("embedded null byte")
        pointer = ctypes.c_char_p(raw)
        self._keep.append(pointer)
        address = ctypes.c_void_p.from_buffer(pointer).value or 0
        self[item] = address
        return address

    def vector(self, env: dict[str, str]) -> array[int]:
        """The envp array (NULL-terminated) for `env`, valid until the next call. Raises
        ValueError as os.posix_spawn does (a name holding "=" or empty, a NUL byte)."""
        if len(self) > _ENTRIES_LIMIT:  # e.g. each job's own id: forget them all now and then
            self.clear()
            self._keep.clear()
        pointers = array(_POINTER, map(self.__getitem__, env.items()))
        pointers.append(0)
        return pointers


_POINTER = "Q" if ctypes.sizeof(ctypes.c_void_p) == 8 else "I"
_ENTRIES_LIMIT = 4096
_entries = _Entries()


class _Actions(dict[tuple[int, int, int, str | None], ctypes.Array[ctypes.c_char]]):
    """(stdin, stdout, stderr, cwd) -> its file actions, built once: the pipe and file fds of
    successive spawns take the same few numbers, and most jobs share a cwd."""

    def __missing__(self, key: tuple[int, int, int, str | None]) -> ctypes.Array[ctypes.c_char]:
        if len(self) >= _ACTIONS_LIMIT:
            self.clear_all()
        actions = ctypes.create_string_buffer(_ACTIONS_SIZE)
        err = _init(actions)
        if err:
            raise OSError(err, os.strerror(err))
        for target, fd in enumerate(key[:3]):
            err = err or _dup2(actions, fd, target)
        if key[3] is not None:
            err = err or _chdir(actions, os.fsencode(key[3]))
        err = err or _closefrom(actions, 3)
        if err:
            _destroy(actions)
            raise OSError(err, os.strerror(err))
        self[key] = actions
        return actions

    def clear_all(self) -> None:
        for actions in self.values():
            _destroy(actions)
        self.clear()


_ACTIONS_LIMIT = 256
_actions = _Actions()
_lock = threading.Lock()


def spawn(
    path: str, argv: list[str], env: dict[str, str], cwd: str | None, fds: tuple[int, int, int]
) -> int:
    """Start `path` with `argv` and `env` in `cwd` (None: this process's) with fds 0-2 from
    `fds` (each > 2); returns the pid. Raises OSError with the child's errno (from its chdir or
    its exec: the caller tells which; filename `path`), ValueError as os.posix_spawn does
    (a NUL byte, a bad variable name)."""
    assert _libc is not None, "libcspawn.spawn without glibc's posix_spawn extensions"
    raw_path = os.fsencode(path)
    raw_argv = [os.fsencode(a) for a in argv]
    if b"\0" in raw_path or any(b"\0" in a for a in raw_argv) or (cwd and "\0" in cwd):
        raise ValueError("embedded null byte")
    pid = ctypes.c_int()
    argvp = (ctypes.c_char_p * (len(raw_argv) + 1))(*raw_argv)
    with _lock:  # the caches' addresses stay valid until the child has exec'd
        envp = _entries.vector(env)
        actions = _actions[(fds[0], fds[1], fds[2], cwd)]
        err = _spawn(ctypes.byref(pid), raw_path, actions, _ATTR, argvp, envp.buffer_info()[0])
    if err:
        raise OSError(err, os.strerror(err), path)
    return pid.value
