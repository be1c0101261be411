"""Rate limits inside the claim transaction: a sliding-window log of claims per bucket.

A bucket is (queue, tenant) for a `per tenant` limit ('' for jobs without a tenant) and
(queue, '') for a limit on the whole queue. Only rate-limited queues write to the log; the
claim is one write transaction, so daemons sharing the DB cannot overshoot together.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from jobctl.domain.queues import RateLimit
from jobctl.store.database import Conn

Bucket = tuple[str, str]


def bucket(queue: str, tenant: str | None, rate: RateLimit) -> Bucket:
    return (queue, (tenant or "") if rate.per_tenant else "")


def usage(conn: Conn, rates: Mapping[str, RateLimit], ts: float) -> dict[Bucket, int]:
    """Claims per bucket within each queue's window ending at `ts`; older entries are pruned."""
    used: dict[Bucket, int] = {}
    for queue, rate in rates.items():
        start = ts - rate.per
        conn.execute("DELETE FROM rate_claims WHERE queue = ? AND at <= ?", (queue, start))
        for tenant, count in conn.execute(
            "SELECT tenant, count(*) FROM rate_claims WHERE queue = ? AND at > ? GROUP BY tenant",
            (queue, start),
        ):
            used[(queue, tenant)] = count
    return used


def exhausted(rates: Mapping[str, RateLimit], used: Mapping[Bucket, int]) -> list[Bucket]:
    """Buckets with no claim left in their window."""
    return [b for b, count in used.items() if b[0] in rates and count >= rates[b[0]].limit]


def record(conn: Conn, buckets: Iterable[Bucket], ts: float) -> None:
    """Log one claim per bucket entry (a bucket appears once per job claimed)."""
    conn.executemany(
        "INSERT INTO rate_claims (queue, tenant, at) VALUES (?, ?, ?)",
        [(queue, tenant, ts) for queue, tenant in buckets],
    )


def window(conn: Conn, key: Bucket, start: float) -> tuple[int, float | None]:
    """(claims in the bucket since `start`, epoch of the oldest of them)."""
    row = conn.execute(
        "SELECT count(*), min(at) FROM rate_claims WHERE queue = ? AND tenant = ? AND at > ?",
        (key[0], key[1], start),
    ).fetchone()
    return row[0], row[1]
