"""jobctl through PgBouncer in transaction mode (`?poll=`: LISTEN is unavailable there): the
daemon runs jobs, schedules fire, locks and once-runs hold, and nothing relies on session
state (no named prepared statements, no session locks, no session settings)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import pgbouncer
from tests.support.cli import TRACEBACK, Jobctl
from tests.support.pg import PgServer, fresh_url
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def jcb(tmp_path: Path, pg_server: PgServer) -> Iterator[Jobctl]:
    """`jobctl` on a fresh database reached through a private PgBouncer."""
    pgbouncer.require()
    urls = fresh_url(pg_server)
    direct = next(urls)
    with pgbouncer.running(tmp_path, pg_server.url) as bouncer:
        jc = Jobctl(tmp_path, bouncer.url(direct) + "?poll=0.2s")
        try:
            yield jc
        finally:
            jc.stop_daemons()
        for index in range(len(jc.daemons)):
            assert TRACEBACK not in jc.daemon_log(index), jc.daemon_log(index)
        bouncer_log = bouncer.log.read_text(errors="replace")
        assert "prepared statement" not in bouncer_log, bouncer_log
    next(urls, None)


def test_daemon_schedules_locks_and_once_through_pgbouncer(jcb: Jobctl, tmp_path: Path) -> None:
    jcb.start_daemon("--concurrency", "4", "--node", "b1")
    jcb.start_daemon("--concurrency", "4", "--node", "b2")
    jobs = [{"command": ["sh", "-c", f"echo job-{n}"]} for n in range(12)]
    out = jcb.ok(
        "enqueue", "--from", "-", input="".join(json.dumps(j) + "\n" for j in jobs).encode()
    )
    ids = [int(x) for x in out.split()]
    keyed = [jcb.enqueue("--ordering-key", "k", "--", "true") for _ in range(3)]

    def succeeded() -> bool:
        jobs = {j["id"]: j for j in jcb.json("list", "--limit", "1000")}
        return all(
            jobs[i]["state"] == "succeeded" and jobs[i]["attempts"] == 1 for i in ids + keyed
        )

    wait_until(succeeded, 60, 0.3, "every job succeeded once")
    assert "job-3" in jcb.ok("logs", str(ids[3]))

    jcb.ok("schedule", "add", "tick", "--cron", "* * * * * *", "--overlap", "allow", "--", "true")

    def fired() -> list[float]:
        jobs = jcb.json("list", "--limit", "1000")
        return [j["nominal_at"] for j in jobs if j["schedule"] == "tick"]

    wait_until(lambda: len(fired()) >= 3, 30, 0.3, "three fires")
    nominal = fired()
    assert len(set(nominal)) == len(nominal), "a fire was enqueued twice"

    lock = jcb.run("lock", "maint", "--ttl", "5s", "--", "sh", "-c", 'echo "$JOBCTL_LOCK_TOKEN"')
    assert lock.rc == 0 and int(lock.out) >= 1, lock
    first = jcb.run("once", "run", "m1", "--", "sh", "-c", "echo did-it")
    again = jcb.run("once", "run", "m1", "--", "sh", "-c", "echo did-it")
    assert first.rc == 0 and "did-it" in first.out, first
    assert again.rc == 0 and "did-it" not in again.out and "already done" in again.out, again
