"""A private PgBouncer in transaction mode in front of the test server, for one test.

Debian's /usr/sbin/pgbouncer refuses to run as root: it runs with `-u postgres`, in the
foreground (its log is its stderr, in a file under tmp), on a free 127.0.0.1 port, and is
stopped by its pid. Every database name is passed through to the real server over two
server connections, so the clients of one test share them: reliance on session state shows.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

BINARY = "/usr/sbin/pgbouncer"


def path() -> str | None:
    """The pgbouncer binary, if installed."""
    return shutil.which("pgbouncer") or (BINARY if os.access(BINARY, os.X_OK) else None)


def require() -> str:
    """Skip (fail under CI) without pgbouncer."""
    found = path()
    if found is None:
        why = "pgbouncer is not installed (apt-get install pgbouncer)"
        if os.environ.get("CI"):
            pytest.fail(why + " (CI is set: .ci/run installs it)")
        pytest.skip(why)
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ini(tmp: Path, server: str, port: int, password: str | None) -> Path:
    parts = urlsplit(server)
    userlist = tmp / "userlist.txt"
    userlist.write_text(f'"{parts.username or "postgres"}" "{password or ""}"\n')
    userlist.chmod(0o600)
    ini = tmp / "pgbouncer.ini"
    ini.write_text(
        "[databases]\n"
        f"* = host={parts.hostname or '127.0.0.1'} port={parts.port or 5432}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\n"
        "unix_socket_dir =\n"
        f"auth_type = {'md5' if password else 'trust'}\nauth_file = {userlist}\n"
        "pool_mode = transaction\n"
        "max_client_conn = 200\ndefault_pool_size = 2\n"
        "server_reset_query =\n"
        "ignore_startup_parameters = extra_float_digits,options\n"
    )
    # pgbouncer reads these after dropping to the postgres user
    for file in (tmp, ini, userlist):
        os.chown(file, _uid("postgres"), -1)
    return ini


def _uid(user: str) -> int:
    import pwd

    return pwd.getpwnam(user).pw_uid


class PgBouncer:
    """A running pgbouncer; `url(db_url)` is `db_url` through it."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.proc = proc
        self.port = port
        self.log = log

    def url(self, db_url: str) -> str:
        parts = urlsplit(db_url)
        user = parts.username or "postgres"
        return urlunsplit(parts._replace(netloc=f"{user}@127.0.0.1:{self.port}"))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: immediate shutdown
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def _ready(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
        return True
    return False


@contextlib.contextmanager
def running(tmp: Path, server: str, password: str | None = None) -> Iterator[PgBouncer]:
    """Start pgbouncer under `tmp` (its own directory, given to the postgres user). With
    `password`, clients must give it (pgbouncer checks it: the test server trusts 127.0.0.1)."""
    binary = require()
    home = tmp / "pgbouncer"
    home.mkdir(parents=True)
    for _try in range(3):  # a free port can be taken between choosing and binding it
        port = _free_port()
        ini = _ini(home, server, port, password)
        log = home / "pgbouncer.log"
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                [binary, "-u", "postgres", str(ini)], stdout=out, stderr=out,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        bouncer = PgBouncer(proc, port, log)
        deadline = time.monotonic() + 10
        while proc.poll() is None and not _ready(port) and time.monotonic() < deadline:
            time.sleep(0.05)
        if proc.poll() is None and _ready(port):
            break
        bouncer.stop()
    else:
        raise AssertionError(f"pgbouncer did not start:\n{log.read_text(errors='replace')}")
    try:
        yield bouncer
    finally:
        bouncer.stop()
