"""Rate limits in the claim: at most N claims per window, per tenant or per queue, shared by
every daemon on the DB (the claim is one write transaction)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from jobctl.domain.queues import RateLimit, parse_rate_limit
from jobctl.errors import InvalidInput
from jobctl.store import Store, open_store
from tests.support.clock import ManualClock
from tests.support.factories import claim, job_spec

PER_TENANT = {"bulk": RateLimit(3, 1.0, per_tenant=True)}


def _enqueue(store: Store, clock: ManualClock, n: int, **fields: object) -> list[int]:
    queue = fields.pop("queue", "bulk")
    specs = [job_spec(queue=queue, **fields) for _ in range(n)]
    return [e.id for e in store.jobs.enqueue(specs, clock.now())]


def _claimed_tenants(store: Store, clock: ManualClock, slots: int = 50, **kw: object) -> list:
    return [j.tenant for j in store.dispatch.claim(claim(slots, **kw), clock.now())]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20/s per tenant", RateLimit(20, 1.0, True)),
        ("20/s", RateLimit(20, 1.0, False)),
        ("100/m", RateLimit(100, 60.0, False)),
        (" 5 / h  per  tenant ", RateLimit(5, 3600.0, True)),
    ],
)
def test_rate_limit_texts_parse(text: str, expected: RateLimit) -> None:
    assert parse_rate_limit(text) == expected


@pytest.mark.parametrize("text", ["20", "0/s", "20/d", "x/s", "20/s per queue", "", 20])
def test_bad_rate_limits_name_the_value(text: object) -> None:
    with pytest.raises(InvalidInput, match="invalid rate_limit"):
        parse_rate_limit(text)


def test_per_tenant_limit_caps_each_tenant_and_lets_others_through(
    store: Store, clock: ManualClock
) -> None:
    _enqueue(store, clock, 10, tenant="acme")
    _enqueue(store, clock, 10, tenant="globex")
    claimed = _claimed_tenants(store, clock, rates=PER_TENANT)
    assert sorted(claimed) == ["acme"] * 3 + ["globex"] * 3
    # Within the same window nothing more; a later claim in the window neither
    clock.advance(0.5)
    assert _claimed_tenants(store, clock, rates=PER_TENANT) == []
    # Once the window has passed, each tenant gets its next 3
    clock.advance(0.6)
    assert sorted(_claimed_tenants(store, clock, rates=PER_TENANT)) == ["acme"] * 3 + ["globex"] * 3


def test_an_exhausted_tenant_does_not_starve_others_behind_it(
    store: Store, clock: ManualClock
) -> None:
    # 100 acme jobs come first in claim order; globex's 2 are behind them
    _enqueue(store, clock, 100, tenant="acme")
    _enqueue(store, clock, 2, tenant="globex")
    assert _claimed_tenants(store, clock, slots=3, rates=PER_TENANT) == ["acme"] * 3
    assert _claimed_tenants(store, clock, slots=3, rates=PER_TENANT) == ["globex"] * 2


def test_a_queue_wide_limit_counts_every_tenant_together(store: Store, clock: ManualClock) -> None:
    _enqueue(store, clock, 5, tenant="acme")
    _enqueue(store, clock, 5, tenant="globex")
    _enqueue(store, clock, 5, queue="other")
    rates = {"bulk": RateLimit(4, 60.0)}
    claimed = store.dispatch.claim(claim(50, rates=rates), clock.now())
    assert sorted(j.queue for j in claimed) == ["bulk"] * 4 + ["other"] * 5
    clock.advance(30)
    assert store.dispatch.claim(claim(50, rates=rates), clock.now()) == []


def test_jobs_without_a_tenant_share_one_bucket(store: Store, clock: ManualClock) -> None:
    _enqueue(store, clock, 5)
    assert len(_claimed_tenants(store, clock, rates=PER_TENANT)) == 3


def test_rate_window_reports_usage_and_when_a_claim_frees(store: Store, clock: ManualClock) -> None:
    _enqueue(store, clock, 4, tenant="acme")
    start = clock.now()
    _claimed_tenants(store, clock, rates=PER_TENANT)
    clock.advance(0.25)
    used, free_at = store.dispatch.rate_window("bulk", "acme", PER_TENANT["bulk"], clock.now())
    assert used == 3
    assert free_at is not None and abs((free_at - start).total_seconds() - 1.0) < 1e-6
    assert store.dispatch.rate_window("bulk", "globex", PER_TENANT["bulk"], clock.now())[0] == 0


def test_queues_without_a_limit_write_no_rate_log(store: Store, clock: ManualClock) -> None:
    _enqueue(store, clock, 3, tenant="acme")
    store.dispatch.claim(claim(10), clock.now())
    with store.db.read() as conn:
        assert conn.execute("SELECT count(*) FROM rate_claims").fetchone()[0] == 0


def _claim_loop(db: str, runner: str, rounds: int, out: multiprocessing.Queue) -> None:
    from datetime import UTC, datetime

    s = open_store(db)
    now = datetime(2030, 1, 1, tzinfo=UTC)  # every process claims within one window
    got = 0
    for _ in range(rounds):
        got += len(s.dispatch.claim(claim(2, runner=runner, rates=PER_TENANT), now))
    out.put(got)
    s.close()


def test_racing_daemons_together_stay_within_the_limit(db_path: Path) -> None:
    from datetime import UTC, datetime

    s = open_store(str(db_path))
    clock = ManualClock(datetime(2030, 1, 1, tzinfo=UTC))
    _enqueue(s, clock, 60, tenant="acme")
    s.close()
    ctx = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue = ctx.Queue()
    procs = [
        ctx.Process(target=_claim_loop, args=(str(db_path), f"node-{i}:1:x", 10, out))
        for i in range(4)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert sum(out.get(timeout=5) for _ in procs) == 3
