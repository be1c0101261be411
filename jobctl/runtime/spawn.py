"""Start one attempt's process in a new session, cheaply, with one-line spawn errors.

The common case uses glibc's posix_spawn (vfork + exec, reports exec errors synchronously)
through ctypes (runtime/libcspawn.py), which also sets the cwd and closes every other fd:
~130 against Popen's ~180 us of CPU a spawn with a cwd (bench/RESULTS-16.md). Without those glibc
extensions, os.posix_spawn when there is no cwd. A user to switch to, a parent-death signal,
or a cwd without them fall back to subprocess.Popen (vfork too, but for the last), given the
executable already looked up when no user is switched to.
The command is looked up on the PATH of the *child's* environment, as execvpe would.
"""

from __future__ import annotations

import ctypes
import errno
import os
import signal
import stat
import subprocess
import time
from collections.abc import Callable

from jobctl.config.identity import Identity, IdentityError, resolve_identity
from jobctl.runtime import libcspawn

_PR_SET_PDEATHSIG = 1
# PATH lookups are remembered briefly, as a shell's `hash` does: a dozen stat() calls per spawn
# are a measurable share of a short job. A vanished file is looked up again at once.
_LOOKUP_TTL = 2.0
_lookups: dict[tuple[str, str], tuple[str, float]] = {}


class SpawnError(Exception):
    """The attempt could not be started; the message is one line for the operator."""


def spawn(
    argv: list[str],
    env: dict[str, str],
    cwd: str | None,
    stdin_fd: int,
    out_fd: int,
    user: str | None = None,
    group: str | None = None,
    err_fd: int | None = None,
    die_with_parent: bool = False,
) -> tuple[int, subprocess.Popen[bytes] | None]:
    """Start `argv` as leader of a new session with stdin from `stdin_fd` and stdout+stderr to
    `out_fd` (stderr to `err_fd` when given); only these fds are inherited; as `user`/`group`
    when given; with `die_with_parent`, SIGKILLed by the kernel when this process dies.
    Returns (pid, the Popen if one was used: its returncode must be set by whoever reaps the
    pid). Raises SpawnError."""
    if not argv:
        raise SpawnError("empty command")
    try:
        identity = resolve_identity(user, group)
    except IdentityError as exc:
        raise SpawnError(str(exc)) from None
    try:
        err = out_fd if err_fd is None else err_fd
        if die_with_parent:
            arm = _death_signal(os.getpid())
            return _popen(argv, env, cwd, stdin_fd, out_fd, identity, err, arm)
        if (
            (cwd is None or libcspawn.AVAILABLE)
            and identity is None
            and min(stdin_fd, out_fd, err) > 2
        ):
            return _posix_spawn(argv, env, cwd, (stdin_fd, out_fd, err)), None
        if identity is not None or "/" in argv[0]:
            return _popen(argv, env, cwd, stdin_fd, out_fd, identity, err)
        # Looked up here (remembered, as for posix_spawn), not by Popen on every spawn:
        # Popen's lookup builds a path per PATH entry and its child tries each in turn.
        path = resolve(argv[0], env)
        try:
            return _popen(argv, env, cwd, stdin_fd, out_fd, None, err, executable=path)
        except SpawnError:
            if os.path.exists(path):
                raise
            path = resolve(argv[0], env, fresh=True)  # the remembered lookup went stale
            return _popen(argv, env, cwd, stdin_fd, out_fd, None, err, executable=path)
    except (ValueError, TypeError) as exc:  # e.g. an embedded NUL byte
        raise SpawnError(f"invalid command {argv[0]!r}: {exc}") from None


def _posix_spawn(
    argv: list[str], env: dict[str, str], cwd: str | None, fds: tuple[int, int, int]
) -> int:
    def run(path: str) -> int:
        if libcspawn.AVAILABLE:  # also closes any inheritable fd, as Popen's close_fds
            return libcspawn.spawn(path, argv, env, cwd, fds)
        actions = [(os.POSIX_SPAWN_DUP2, fd, target) for target, fd in enumerate(fds)]
        return os.posix_spawn(
            path, argv, env, file_actions=actions, setsid=True,
            setsigdef=libcspawn.DEFAULT_SIGNALS, setsigmask=(),
        )  # fmt: skip

    path = resolve(argv[0], env)
    try:
        try:
            return run(path)
        except FileNotFoundError:
            if path == argv[0] or not _enterable(cwd):
                raise
            path = resolve(argv[0], env, fresh=True)  # the remembered lookup went stale
            return run(path)
    except OSError as exc:
        if cwd is not None and not _enterable(cwd):  # the child's chdir failed, not its exec
            raise _cwd_error(cwd, exc.errno) from None
        raise SpawnError(describe(exc, argv[0], path, cwd)) from None


def _enterable(cwd: str | None) -> bool:
    """Whether a child can chdir to `cwd` (asked after a failed spawn: which step failed)."""
    return cwd is None or (os.path.isdir(cwd) and os.access(cwd, os.X_OK))


def _cwd_error(cwd: str, code: int | None) -> SpawnError:
    """The error of a child that could not chdir to `cwd` (errno `code`)."""
    if code in (errno.ENOENT, errno.ENOTDIR):
        return SpawnError(f"no such directory: {cwd}")
    return SpawnError(f"cannot enter directory {cwd}: {os.strerror(code or errno.EACCES)}")


def _popen(
    argv: list[str],
    env: dict[str, str],
    cwd: str | None,
    stdin_fd: int,
    out_fd: int,
    identity: Identity | None = None,
    err_fd: int | None = None,
    preexec: Callable[[], None] | None = None,
    executable: str | None = None,
) -> tuple[int, subprocess.Popen[bytes]]:
    # With an identity the child switches to it (`env` is the caller's: a clean one,
    # launch.job_env); None leaves the user and groups as they are. `executable`: where
    # argv[0] was found (None: Popen looks it up on env's PATH).
    try:
        popen = subprocess.Popen(
            argv, executable=executable,
            stdin=stdin_fd, stdout=out_fd, stderr=out_fd if err_fd is None else err_fd,
            cwd=cwd, env=env,
            close_fds=True, start_new_session=True, preexec_fn=preexec,
            user=None if identity is None else identity.uid,
            group=None if identity is None else identity.gid,
            extra_groups=None if identity is None else identity.groups,
        )  # fmt: skip
    except OSError as exc:
        if cwd is not None and exc.filename == cwd:
            raise _cwd_error(cwd, exc.errno) from None
        raise SpawnError(describe(exc, argv[0], exc.filename or argv[0], cwd)) from None
    return popen.pid, popen


def _death_signal(parent: int) -> Callable[[], None]:
    """For Popen's preexec_fn: SIGKILL this child when `parent` dies (Linux prctl), and exit at
    once if it died already. libc is loaded here, not in the forked child."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def arm() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)

    return arm


def resolve(name: str, env: dict[str, str], fresh: bool = False) -> str:
    """The executable `name` runs as: itself if it holds a "/", else the first executable
    regular file of that name on env's PATH (remembered for _LOOKUP_TTL unless `fresh`).
    Raises SpawnError."""
    if "/" in name:
        return name
    search = env.get("PATH", os.defpath)
    now = time.monotonic()
    known = _lookups.get((name, search))
    if known is not None and not fresh and now - known[1] < _LOOKUP_TTL:
        return known[0]
    path = _search(name, search)
    if len(_lookups) >= 1024:
        _lookups.clear()
    _lookups[(name, search)] = (path, now)
    return path


def _search(name: str, search: str) -> str:
    denied = None
    for directory in search.split(os.pathsep):
        path = os.path.join(directory, name)
        try:
            st = os.stat(path)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            if os.access(path, os.X_OK):
                return path
            denied = denied or path
    if denied:
        raise SpawnError(f"not executable: {denied}")
    raise SpawnError(f"command not found: {name}")


def describe(exc: OSError, name: str, path: str, cwd: str | None = None) -> str:
    """One line for a failed exec of `name` (found at `path`, relative to `cwd` if given)."""
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        # the file is there: its #! interpreter is not
        if "/" in path and os.path.isfile(os.path.join(cwd or "", path)):
            return f"cannot execute {path}: bad interpreter"
        return f"command not found: {name}"
    if exc.errno == errno.EACCES:
        return f"not executable: {path}"
    if exc.errno == errno.ENOEXEC:
        return f"not executable: {path} (exec format error)"
    return f"cannot execute {path}: {exc.strerror}"
