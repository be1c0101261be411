"""PostgreSQL connections: jobctl's URL, a small pool, transactions, errors.

Nothing here relies on session state, so jobctl works through PgBouncer in transaction mode:
every transaction sets its own `search_path` (SET LOCAL, in the BEGIN round trip) and locks
are transaction-scoped. Statements a connection runs often are prepared (the server parses
and plans them once), except with `?poll=`, the URL of a transaction-mode pooler, where the
next transaction may get another server connection that does not know them.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import errors as pgerrors

from jobctl.domain.durations import parse_duration
from jobctl.errors import InvalidInput, StoreError, Unavailable
from jobctl.store.database import Conflict, Cursor

CONNECT_TIMEOUT_S = 10
PREPARE_AFTER = 5  # executions of one statement on a connection before it is prepared
MIN_SERVER = 130000  # PostgreSQL 13
IDLE_CONNECTIONS = 4  # kept open per pool; more may be open while busy
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,40}$")
_TOPIC = re.compile(r"^[a-z_]{1,20}$")

# psycopg logs what it ignores while closing a broken pipeline ("error ignored terminating
# <psycopg.Pipeline [BAD]>"); jobctl reports that failure itself, in one line. Without a
# handler, Python's last-resort handler would print psycopg's copy to the user's terminal.
logging.getLogger("psycopg").addHandler(logging.NullHandler())


@dataclass(frozen=True)
class PgUrl:
    """A `postgresql://` URL split into what psycopg gets and jobctl's own parameters."""

    conninfo: str  # the URL without jobctl's parameters
    schema: str  # where jobctl's tables live (`?schema=`, default jobctl)
    poll: float | None  # `?poll=1s`: poll instead of LISTEN (PgBouncer transaction mode)
    display: str  # the URL with the password hidden

    @property
    def channel(self) -> str:
        """The NOTIFY channel of this schema (two jobctl schemas never wake each other)."""
        return f"jobctl_{self.schema}"


def redact(url: str) -> str:
    """`url` with any password replaced by `***`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def parse_url(url: str) -> PgUrl:
    """Validate a `postgresql://` URL; jobctl's `schema` and `poll` parameters are taken out."""
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    schema = params.pop("schema", "jobctl") or "jobctl"
    if not _IDENT.match(schema):
        raise InvalidInput(f"invalid schema {schema!r} in the database URL: use [a-z_][a-z0-9_]*")
    poll = None
    if "poll" in params:
        text = params.pop("poll")
        poll = parse_duration(text, f"poll {text!r} in the database URL").total_seconds()
        if poll <= 0:
            raise InvalidInput(
                f"poll in the database URL must be a positive duration, not {text!r}"
            )
    conninfo = urlunsplit(parts._replace(query=urlencode(params)))
    return PgUrl(conninfo, schema, poll, redact(url))


@functools.lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """Shared SQL → psycopg: `?` → `%s`, a literal `%` doubled, SQLite's `INDEXED BY name`
    planner hints dropped. Quoted strings and identifiers are left as they are."""
    out: list[str] = []
    quote: str | None = None
    for ch in sql:
        if quote is not None:
            out.append("%%" if ch == "%" else ch)
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
            out.append(ch)
        elif ch == "?":
            out.append("%s")
        elif ch == "%":
            out.append("%%")
        else:
            out.append(ch)
    return re.sub(r"\s+INDEXED BY \w+", "", "".join(out))


class PgRow:
    """A row by position, by column name, and iterable (the shape of sqlite3.Row)."""

    __slots__ = ("_index", "_values")

    def __init__(self, values: Sequence[Any], index: dict[str, int]) -> None:
        self._values = values
        self._index = index

    def __getitem__(self, key: int | str) -> Any:
        if isinstance(key, str):
            return self._values[self._index[key]]
        return self._values[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def keys(self) -> list[str]:
        return list(self._index)


def _row_factory(cursor: psycopg.Cursor[Any]) -> Any:
    names = [d.name for d in cursor.description or ()]
    index = {name: i for i, name in enumerate(names)}
    return lambda values: PgRow(values, index)


def one(cursor: psycopg.Cursor[Any]) -> Any:
    """The row a statement that always yields one (an aggregate, `RETURNING`) yielded."""
    row = cursor.fetchone()
    if row is None:
        raise StoreError("the database returned no row where one was certain")
    return row


def _message(exc: BaseException) -> str:
    diag = getattr(exc, "diag", None)
    text = (getattr(diag, "message_primary", None) if diag is not None else None) or str(exc)
    return " ".join(text.split())


def describe(exc: psycopg.Error, display: str) -> Exception:
    """A driver error as the JobctlError (or Conflict) an operator should see."""
    text = _message(exc)
    if isinstance(exc, pgerrors.UniqueViolation):
        return Conflict(text)
    if isinstance(exc, pgerrors.QueryCanceled):
        return Unavailable(f"database {display}: statement timed out: {text}")
    if isinstance(exc, pgerrors.LockNotAvailable | pgerrors.DeadlockDetected):
        return Unavailable(f"database {display} is busy: {text}")
    if isinstance(exc, pgerrors.SerializationFailure):
        return Unavailable(f"database {display}: concurrent update, try again: {text}")
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        if "FATAL:" in text:  # the server answered: bad credentials, no such database, ...
            return StoreError(f"database {display}: {text.split('FATAL:', 1)[1].strip()}")
        return Unavailable(f"database {display} is unreachable: {text}")
    return StoreError(f"database {display}: {text}")


def connect(url: PgUrl) -> psycopg.Connection[Any]:
    """One autocommit connection (transactions are explicit), checked for a server ≥ 13."""
    try:
        raw = psycopg.connect(
            url.conninfo,
            autocommit=True,
            prepare_threshold=None if url.poll is not None else PREPARE_AFTER,
            connect_timeout=CONNECT_TIMEOUT_S,
            row_factory=_row_factory,
        )
    except psycopg.Error as exc:
        raise describe(exc, url.display) from None
    if raw.info.server_version < MIN_SERVER:
        version = raw.info.server_version
        raw.close()
        raise StoreError(
            f"database {url.display}: PostgreSQL {version // 10000}.{version % 10000} is older"
            " than 13, which jobctl needs"
        )
    return raw


class Pool:
    """A few idle connections shared by every store of one URL in this process. No
    background threads: a connection is opened when none is idle and kept (up to
    IDLE_CONNECTIONS) when it comes back healthy."""

    def __init__(self, url: PgUrl) -> None:
        self.url = url
        self._idle: list[psycopg.Connection[Any]] = []
        self._lock = threading.Lock()
        self.users = 0
        self.migrated = False  # the schema was checked (and migrated) by this process

    @contextlib.contextmanager
    def connection(self, begin: str) -> Iterator[psycopg.Connection[Any]]:
        """A connection inside a transaction opened with `begin`. An idle connection the
        server dropped (restart, failover) is replaced by a new one before use."""
        with self._lock:
            raw = self._idle.pop() if self._idle else None
        if raw is not None:
            try:
                raw.execute(begin)
            except psycopg.OperationalError:
                raw.close()
                self.close()  # the others went with the same server
                raw = None
        if raw is None:
            raw = connect(self.url)
            try:
                raw.execute(begin)
            except psycopg.Error as exc:
                raw.close()
                raise describe(exc, self.url.display) from None
        try:
            yield raw
        finally:
            healthy = not raw.closed and not raw.broken
            if healthy and raw.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
                with self._lock:
                    if len(self._idle) < IDLE_CONNECTIONS:
                        self._idle.append(raw)
                        raw = None
            if raw is not None:
                raw.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for raw in idle:
            raw.close()


_POOLS: dict[str, Pool] = {}
_POOLS_LOCK = threading.Lock()


def pool_for(url: PgUrl) -> Pool:
    """The process's pool for this URL (shared by threads; released with `release_pool`)."""
    with _POOLS_LOCK:
        pool = _POOLS.get(url.conninfo)
        if pool is None:
            pool = _POOLS[url.conninfo] = Pool(url)
        pool.users += 1
        return pool


def close_pools_of(url: str) -> None:
    """Close the idle connections this process keeps to `url`'s database (tests drop it)."""
    conninfo = parse_url(url).conninfo
    with _POOLS_LOCK:
        pool = _POOLS.get(conninfo)
    if pool is not None:
        pool.close()


def release_pool(pool: Pool) -> None:
    with _POOLS_LOCK:
        pool.users -= 1
        if pool.users <= 0:
            _POOLS.pop(pool.url.conninfo, None)
            pool.close()


class PgConn:
    """SQL inside one PostgreSQL transaction (the `Conn` of store/database.py)."""

    kind = "postgres"

    def __init__(self, raw: psycopg.Connection[Any], url: PgUrl) -> None:
        self.raw = raw
        self.url = url
        self.topics: set[str] = set()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        return self.raw.execute(translate(sql), params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            with self.raw.cursor() as cur:
                cur.executemany(translate(sql), rows)

    def insert_ids(self, sql: str, rows: Sequence[Sequence[Any]]) -> list[int]:
        if not rows:
            return []
        ids = []
        with self.raw.cursor() as cur:
            cur.executemany(translate(sql + " RETURNING id"), rows, returning=True)
            while True:
                ids.append(one(cur)[0])
                if not cur.nextset():
                    break
        return ids

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        """SAVEPOINT … RELEASE; ROLLBACK TO it on an error in the block (which PostgreSQL
        needs before the transaction takes another statement). A unique violation is
        raised as Conflict, as SQLite's Conn raises it."""
        self.raw.execute("SAVEPOINT part")
        try:
            yield
        except BaseException as exc:
            if self.raw.broken or self.raw.closed:
                raise
            self.raw.execute("ROLLBACK TO SAVEPOINT part")
            self.raw.execute("RELEASE SAVEPOINT part")
            if isinstance(exc, pgerrors.UniqueViolation):
                raise Conflict(str(exc)) from exc
            raise
        self.raw.execute("RELEASE SAVEPOINT part")

    def serialise(self, *keys: str) -> None:
        for key in sorted(set(keys)):  # one order everywhere: no deadlock between two sets
            self.raw.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                (f"{self.url.schema}:{key}",),
            )

    def notify(self, topic: str) -> None:
        if not _TOPIC.match(topic):
            raise ValueError(f"bad notify topic {topic!r}")
        self.topics.add(topic)


class PgDatabase:
    """Transactions over a shared pool (the `Database` of store/database.py)."""

    kind = "postgres"

    def __init__(self, url: PgUrl) -> None:
        self.url = url
        self.pool = pool_for(url)
        self._released = False
        path = f'SET LOCAL search_path TO "{url.schema}"'
        self._begin = f"BEGIN; {path}"
        self._begin_read = f"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; {path}"
        self.commits = 0  # write transactions committed

    @contextlib.contextmanager
    def _transaction(self, begin: str) -> Iterator[PgConn]:
        with self.pool.connection(begin) as raw:
            try:
                conn = PgConn(raw, self.url)
                try:
                    yield conn
                except BaseException:
                    if not raw.broken and not raw.closed:
                        raw.execute("ROLLBACK")
                    raise
                notify = "".join(
                    f"SELECT pg_notify('{self.url.channel}', '{t}'); " for t in sorted(conn.topics)
                )
                raw.execute(notify + "COMMIT")
            except psycopg.Error as exc:
                if isinstance(exc, pgerrors.FeatureNotSupported) and not raw.closed:
                    # "cached plan must not change result type": a table changed (a newer
                    # jobctl migrated it) under a statement this connection prepared. The
                    # pool opens a new connection next time, which prepares afresh.
                    raw.close()
                raise describe(exc, self.url.display) from exc
        if begin is self._begin:
            self.commits += 1

    def write(self) -> contextlib.AbstractContextManager[PgConn]:
        return self._transaction(self._begin)

    def read(self) -> contextlib.AbstractContextManager[PgConn]:
        return self._transaction(self._begin_read)

    def quick_check(self, tables: Sequence[str]) -> list[str]:
        """PostgreSQL keeps its own pages sound; what can go wrong here is the schema: each
        small table must be readable."""
        problems = []
        with self.read() as conn:
            for table in tables:
                try:
                    conn.execute(f"SELECT count(*) FROM {table}").fetchone()
                except psycopg.Error as exc:
                    problems.append(f"{table}: {_message(exc)}")
                    break  # the transaction is aborted
        return problems

    def now_epoch(self) -> float:
        """The database server's clock (epoch seconds): leases and fires use it."""
        with self.read() as conn:
            return float(conn.execute("SELECT extract(epoch FROM clock_timestamp())").fetchone()[0])

    def close(self) -> None:
        if not self._released:
            self._released = True
            release_pool(self.pool)
