"""Backpressure (queue max_depth + shed) below the CLI: the Client's enqueue path, so the
HTTP API gets it too; rate limits explained; bad limits reported by config check."""

from __future__ import annotations

import multiprocessing
from datetime import timedelta
from pathlib import Path

import pytest

from jobctl.client import Client
from jobctl.config.check import check_config
from jobctl.config.model import Config, QueueConfig
from jobctl.config.resolve import EnqueueOptions
from jobctl.domain.queues import defer_delay
from jobctl.errors import Unavailable
from jobctl.ops.explain import explain
from tests.support.factories import claim


def _client(db: str | Path, *queues: QueueConfig) -> Client:
    return Client(db, Config(queues=(QueueConfig("default"), *queues)))


def _fill(c: Client, queue: str, n: int) -> list[int]:
    return [e.id for e in c.enqueue_options([EnqueueOptions(["true"], queue=queue)] * n)]


def test_reject_at_max_depth_is_unavailable_with_depth_and_limit(db_url: str) -> None:
    with _client(db_url, QueueConfig("bulk", max_depth=3, shed="reject")) as c:
        _fill(c, "bulk", 3)
        with pytest.raises(Unavailable, match=r"'bulk'.*depth 3.*max_depth 3") as err:
            c.enqueue(["true"], queue="bulk")
        assert err.value.exit_code == 75
        assert len(c.list(queue="bulk")) == 3, "nothing written"
        c.enqueue(["true"])  # other queues are not shed


def test_a_bulk_enqueue_over_the_limit_is_all_or_nothing(db_url: str) -> None:
    with _client(db_url, QueueConfig("bulk", max_depth=5, shed="reject")) as c:
        _fill(c, "bulk", 3)
        mixed = [EnqueueOptions(["true"]), *[EnqueueOptions(["true"], queue="bulk")] * 3]
        with pytest.raises(Unavailable):
            c.enqueue_options(mixed)
        assert len(c.list()) == 3
        assert len(_fill(c, "bulk", 2)) == 2  # exactly up to the limit is fine


def test_running_jobs_do_not_count_towards_depth(db_url: str) -> None:
    with _client(db_url, QueueConfig("bulk", max_depth=2, shed="reject")) as c:
        _fill(c, "bulk", 2)
        c.store.dispatch.claim(claim(2), c.list()[0].created_at + timedelta(seconds=1))
        assert len(_fill(c, "bulk", 2)) == 2


def test_defer_accepts_but_pushes_run_at_back_more_the_further_over(db_url: str) -> None:
    with _client(db_url, QueueConfig("bulk", max_depth=10, shed="defer")) as c:
        _fill(c, "bulk", 10)
        first = c.get(c.enqueue(["true"], queue="bulk"))
        delay = (first.run_at - first.created_at).total_seconds()
        assert delay == pytest.approx(defer_delay(10, 10)) == pytest.approx(1.0)
        ids = _fill(c, "bulk", 5)
        delays = [(c.get(i).run_at - c.get(i).created_at).total_seconds() for i in ids]
        assert delays == sorted(delays) and delays[-1] == pytest.approx(defer_delay(15, 10))
        assert delays[-1] > delay


def test_defer_delay_doubles_per_tenth_over_and_is_capped() -> None:
    assert defer_delay(100, 100) == 1.0
    assert defer_delay(110, 100) == 2.0
    assert defer_delay(150, 100) == 32.0
    assert defer_delay(10_000, 100) == 300.0


def test_defer_keeps_a_run_at_that_is_already_later(db_path: Path) -> None:
    with _client(db_path, QueueConfig("bulk", max_depth=1)) as c:
        _fill(c, "bulk", 1)
        job = c.get(
            c.enqueue(["true"], queue="bulk", run_at=c.list()[0].created_at + timedelta(hours=2))
        )
        assert (job.run_at - job.created_at) > timedelta(hours=1)


def test_a_queue_without_max_depth_is_never_shed(db_path: Path) -> None:
    with _client(db_path, QueueConfig("critical")) as c:
        ids = _fill(c, "critical", 200)
        assert all(c.get(i).run_at == c.get(i).created_at for i in ids[-3:])


def test_a_held_key_returns_the_job_even_when_the_queue_is_full(db_path: Path) -> None:
    with _client(db_path, QueueConfig("bulk", max_depth=1, shed="reject")) as c:
        held = c.enqueue(["true"], queue="bulk", key="k")
        assert c.enqueue(["true"], queue="bulk", key="k") == held


def test_explain_says_tenant_rate_limited_with_the_facts(db_path: Path) -> None:
    queue = QueueConfig("bulk", rate_limit="2/m per tenant")
    with _client(db_path, queue) as c:
        ids = [c.enqueue(["true"], queue="bulk", tenant="acme") for _ in range(3)]
        now = c.get(ids[0]).created_at + timedelta(seconds=1)
        claimed = c.store.dispatch.claim(claim(5, rates={"bulk": queue.rate}), now)
        assert len(claimed) == 2
        result = explain(c.store, c.config, ids[2], now + timedelta(seconds=5))
        assert "Tenant rate-limited" in result.reason and "'acme'" in result.reason
        assert result.facts["rate_limit"] == "2/m per tenant"
        assert result.facts["claims_in_window"] == 2
        assert result.facts["next_claim_at"] > now + timedelta(seconds=5)


def test_config_check_reports_a_bad_rate_limit_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "queues:\n  - name: bulk\n    max_depth: 10\n    rate_limit: 20 per second\n"
        "  - name: ok\n    rate_limit: 20/s per tenant\n"
    )
    config, problems = check_config(path)
    assert problems == [
        f"{path}:4: invalid rate_limit '20 per second': use N/s, N/m or N/h,"
        " optionally 'per tenant'"
    ]
    assert config.queue("ok").rate is not None


def _enqueue_until_full(db: str, tries: int, out: multiprocessing.Queue) -> None:
    created = 0
    with _client(db, QueueConfig("bulk", max_depth=50, shed="reject")) as c:
        for _ in range(tries):
            try:
                c.enqueue(["true"], queue="bulk")
                created += 1
            except Unavailable:
                pass
    out.put(created)


def test_racing_enqueuers_cannot_overfill_a_reject_queue(db_url: str) -> None:
    _client(db_url).close()  # create the DB once
    ctx = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue = ctx.Queue()
    procs = [ctx.Process(target=_enqueue_until_full, args=(db_url, 30, out)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert sum(out.get(timeout=5) for _ in procs) == 50
    with _client(db_url) as c:
        assert len(c.list(queue="bulk", limit=1000)) == 50
