"""Is that database up? Connect and ping, for the `postgres` and `mysql` dependency probes
(`ops.probes`): the drivers stay in the store layer, as every SQL connection does.

Each call opens one connection with `timeout` for connecting and reading, runs the
cheapest round trip (`SELECT 1`; MySQL's COM_PING) and closes it. It returns a short
description of the server, or raises the driver's error (the caller reports it, secrets
scrubbed).
"""

from __future__ import annotations

import math
from urllib.parse import parse_qs, unquote, urlsplit


def ping_postgres(url: str, timeout: float) -> str:
    """Connect to `url` (libpq syntax), `SELECT 1`, close; the server's version."""
    import psycopg

    # libpq counts whole seconds (and at least 2); the probe runner keeps the real deadline
    with psycopg.connect(url, connect_timeout=max(2, math.ceil(timeout)), autocommit=True) as conn:
        conn.execute("SELECT 1").fetchone()
        version = conn.info.server_version
    return f"PostgreSQL {version // 10000}.{version % 10000}"


def ping_mysql(url: str, timeout: float) -> str:
    """Connect to `mysql://USER:PASSWORD@HOST:PORT/DB` (`?unix_socket=PATH` for a socket),
    ping, close; the server's version. Needs PyMySQL (the `mysql` extra)."""
    import pymysql

    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    conn = pymysql.connect(
        host=parts.hostname or "localhost",
        port=parts.port or 3306,
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password or ""),
        database=unquote(parts.path.lstrip("/")) or None,
        unix_socket=query.get("unix_socket"),
        connect_timeout=max(timeout, 0.001),
        read_timeout=timeout,
        write_timeout=timeout,
    )
    try:
        conn.ping(reconnect=False)
        return f"MySQL {conn.get_server_info()}"
    finally:
        conn.close()
