"""Dispatch on PostgreSQL: the shared verbs, with the claim as one SKIP LOCKED statement."""

from __future__ import annotations

from jobctl.domain.job import Job
from jobctl.store.database import Conn
from jobctl.store.postgres.claim import CLAIM, claim_params
from jobctl.store.records import jobs_from_rows
from jobctl.store.repos import rates
from jobctl.store.repos.dispatch import Claim, DispatchRepo


class PgDispatchRepo(DispatchRepo):
    def _claim_plain(self, conn: Conn, claim: Claim, ts: float) -> list[Job]:
        """None here: the claim below is one statement already (with its gang and node
        checks before it)."""
        return []

    def _claim_jobs(
        self,
        conn: Conn,
        claim: Claim,
        ts: float,
        before: tuple[int, float, int] | None = None,
    ) -> list[Job]:
        """As DispatchRepo's, exact across hosts: claims of concurrency- or rate-limited
        queues are serialised per queue for the transaction; others never wait."""
        limits = dict(claim.limits or {})
        limited = set(limits) | set(claim.rates or {})
        if claim.queues is not None:
            limited &= claim.queues
        excluded: set[str] = set()
        room: dict[str, int] = {}
        remaining: dict[tuple[str, str], int] = {}
        if limited:
            conn.serialise(*(f"claim:{queue}" for queue in limited))
        if limits:
            running = dict(
                conn.execute(
                    "SELECT queue, count(*) FROM jobs WHERE state = 'running'"
                    " AND queue = ANY (?) GROUP BY queue",
                    (list(limits),),
                ).fetchall()
            )
            for queue, limit in limits.items():
                free = limit - running.get(queue, 0)
                if free <= 0:
                    excluded.add(queue)
                else:
                    room[queue] = free
        if claim.rates:
            used = rates.usage(conn, claim.rates, ts)
            remaining = {b: claim.rates[b[0]].limit - n for b, n in used.items()}
        params = claim_params(
            now=ts,
            runner=claim.runner,
            node=claim.node,
            slots=claim.slots,
            lease=claim.lease,
            served=sorted(claim.queues) if claim.queues is not None else None,
            excluded=sorted(excluded),
            room=room,
            rates=claim.rates or {},
            remaining=remaining,
            tags=sorted(claim.tags),
            before=before,
        )
        rows = conn.raw.execute(CLAIM, params).fetchall()  # type: ignore[attr-defined]
        return jobs_from_rows(rows)
