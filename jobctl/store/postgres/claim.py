"""The claim on PostgreSQL: one statement per pass, `FOR UPDATE SKIP LOCKED`.

Claimers on many hosts never wait for each other's candidate rows. Where a limit must be
exact across hosts (a queue's concurrency, a rate limit), that queue's claims are serialised
by a transaction-scoped advisory lock taken before the room is counted; the statement is
then given each limited queue's room and each rate bucket's remaining claims, and a window
over the locked candidates keeps within them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from jobctl.domain.queues import RateLimit

LIVE = "('waiting', 'queued', 'running', 'retrying')"

# %(name)s parameters; psycopg adapts the Python lists to arrays.
CLAIM = f"""
WITH cand AS (
    SELECT id, queue, tenant, priority, run_at FROM jobs
    WHERE state IN ('queued', 'retrying') AND run_at <= %(now)s
      AND NOT (queue = ANY (%(excluded)s))
      AND NOT EXISTS (SELECT 1 FROM queues p WHERE p.name = jobs.queue AND p.paused = 1)
      AND (%(served)s::text[] IS NULL OR queue = ANY (%(served)s))
      AND (on_node IS NULL OR on_node = %(node)s)
      AND (on_tag IS NULL OR on_tag = ANY (%(tags)s::text[]))
      AND gang_id IS NULL
      AND (%(before_p)s::bigint IS NULL OR (-priority, run_at, id)
           < (%(before_p)s::bigint, %(before_r)s::double precision, %(before_i)s::bigint))
      AND (queue, coalesce(tenant, '')) NOT IN (
           SELECT * FROM unnest(%(spent_queues)s::text[], %(spent_tenants)s::text[]))
      AND (ordering_key IS NULL OR id = (SELECT min(o.id) FROM jobs o
           WHERE o.ordering_key = jobs.ordering_key AND o.state IN {LIVE}))
    ORDER BY priority DESC, run_at, id
    LIMIT %(scan)s
    FOR UPDATE SKIP LOCKED
), ranked AS (
    SELECT c.id, c.priority, c.run_at, c.queue,
           row_number() OVER (PARTITION BY c.queue ORDER BY c.priority DESC, c.run_at, c.id) AS nq,
           row_number() OVER (
               PARTITION BY c.queue, CASE WHEN b.per_tenant THEN coalesce(c.tenant, '') ELSE '' END
               ORDER BY c.priority DESC, c.run_at, c.id) AS nb,
           b.per_tenant, b.lim, coalesce(c.tenant, '') AS tenant
    FROM cand c LEFT JOIN unnest(%(rate_queues)s::text[], %(rate_per_tenant)s::boolean[],
                                 %(rate_limit)s::bigint[]) AS b (queue, per_tenant, lim)
         ON b.queue = c.queue
), picked AS (
    SELECT r.id, r.queue, CASE WHEN r.per_tenant THEN r.tenant ELSE '' END AS bucket,
           r.per_tenant IS NOT NULL AS rated
    FROM ranked r
    LEFT JOIN unnest(%(room_queues)s::text[], %(room)s::bigint[]) AS q (queue, room)
         ON q.queue = r.queue
    LEFT JOIN unnest(%(left_queues)s::text[], %(left_buckets)s::text[], %(left)s::bigint[])
         AS l (queue, bucket, remaining)
         ON l.queue = r.queue AND l.bucket = CASE WHEN r.per_tenant THEN r.tenant ELSE '' END
    WHERE (q.room IS NULL OR r.nq <= q.room)
      AND (r.per_tenant IS NULL OR r.nb <= coalesce(l.remaining, r.lim))
    ORDER BY r.priority DESC, r.run_at, r.id
    LIMIT %(slots)s
), claimed AS (
    UPDATE jobs SET state = 'running', attempts = attempts + 1, started_at = %(now)s,
           lease_owner = %(runner)s, lease_expires_at = %(lease_until)s, retry_after = NULL
    FROM picked WHERE jobs.id = picked.id
    RETURNING jobs.*
), attempt_rows AS (
    INSERT INTO attempts (job_id, attempt, queue, node, runner, due_at, started_at)
    SELECT id, attempts, queue, %(node)s, %(runner)s, greatest(run_at, created_at), %(now)s
    FROM claimed
    ON CONFLICT (job_id, attempt) DO UPDATE SET queue = excluded.queue, node = excluded.node,
        runner = excluded.runner, due_at = excluded.due_at, started_at = excluded.started_at,
        pid = NULL, pid_start = NULL, finished_at = NULL, exit_code = NULL, signal = NULL,
        failure_class = NULL, duration = NULL, max_rss = NULL, cpu_seconds = NULL, log_path = NULL
), rate_rows AS (
    INSERT INTO rate_claims (queue, tenant, at)
    SELECT picked.queue, picked.bucket, %(now)s FROM picked WHERE picked.rated
)
SELECT * FROM claimed ORDER BY priority DESC, run_at, id
"""


def claim_params(
    *,
    now: float,
    runner: str,
    node: str,
    slots: int,
    lease: float,
    served: Sequence[str] | None,
    excluded: Sequence[str],
    room: Mapping[str, int],
    rates: Mapping[str, RateLimit],
    remaining: Mapping[tuple[str, str], int],
    tags: Sequence[str] = (),
    before: tuple[int, float, int] | None = None,
) -> dict[str, Any]:
    """The parameters of CLAIM. `room`: free slots per concurrency-limited queue; `remaining`:
    claims left per rate bucket (queue, tenant or '') used in the window (an unused bucket
    has its queue's whole limit); `tags`: the daemon's, for jobs placed on a tag; `before`:
    only jobs before this place in claim order, as (-priority, run_at, id) (the first
    waiting gang's: repos/gangs.py)."""
    left = dict(remaining)
    spent = [b for b, n in left.items() if n <= 0 and rates[b[0]].per_tenant]
    excluded = [
        *excluded,
        *(b[0] for b, n in left.items() if n <= 0 and not rates[b[0]].per_tenant),
    ]
    return {
        "now": now,
        "runner": runner,
        "node": node,
        "tags": list(tags),
        "before_p": before[0] if before else None,
        "before_r": before[1] if before else None,
        "before_i": before[2] if before else None,
        "slots": slots,
        "scan": slots * 4,
        "lease_until": now + lease,
        "served": list(served) if served is not None else None,
        "excluded": list(excluded),
        "room_queues": list(room),
        "room": [room[q] for q in room],
        "rate_queues": list(rates),
        "rate_per_tenant": [rates[q].per_tenant for q in rates],
        "rate_limit": [rates[q].limit for q in rates],
        "left_queues": [k[0] for k in left],
        "left_buckets": [k[1] for k in left],
        "left": list(left.values()),
        "spent_queues": [b[0] for b in spent],
        "spent_tenants": [b[1] for b in spent],
    }
