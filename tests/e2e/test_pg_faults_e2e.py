"""A connection dropped in the middle of a claim or an enqueue on PostgreSQL: the claim
either happened or did not (nothing half-written), the daemon carries on, and a one-shot
command says so in one line with exit 75.

The fault is the server's: a trigger (outside jobctl's schema) holds the statement while a
flag row exists, and the test terminates that backend, as a failover would.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.support.cli import Jobctl, Result
from tests.support.waiting import wait_until

ON_EACH_BACKEND = False

pytestmark = pytest.mark.slow

HOLD = """
CREATE TABLE public.hold (tbl text PRIMARY KEY);
CREATE FUNCTION public.hold_here() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..600 LOOP
        EXIT WHEN NOT EXISTS (SELECT 1 FROM public.hold WHERE tbl = TG_TABLE_NAME);
        PERFORM pg_sleep(0.1);
    END LOOP;
    RETURN NEW;
END $$;
CREATE TRIGGER hold BEFORE INSERT ON jobctl.attempts
    FOR EACH ROW EXECUTE FUNCTION public.hold_here();
CREATE TRIGGER hold BEFORE INSERT ON jobctl.jobs
    FOR EACH ROW EXECUTE FUNCTION public.hold_here();
"""


@pytest.fixture
def backend() -> str:
    return "postgres"


def sql(jc: Jobctl, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(jc.db_url, autocommit=True) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []


@pytest.fixture
def held(jc: Jobctl) -> Iterator[Jobctl]:
    sql(jc, HOLD)
    yield jc
    sql(jc, "DELETE FROM public.hold")


def cut_held(jc: Jobctl) -> bool:
    """Terminate the backend held in the trigger (False while there is none)."""
    rows = sql(
        jc,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event = 'PgSleep'",
    )
    return bool(rows)


def test_a_connection_dropped_mid_claim_leaves_the_job_unclaimed(held: Jobctl) -> None:
    jc = held
    job_id = jc.enqueue("--", "true")
    sql(jc, "INSERT INTO public.hold VALUES ('attempts')")
    daemon = jc.start_daemon("--node", "n1")
    wait_until(lambda: cut_held(jc), 30, 0.1, "a claim held mid-statement")
    # the claim did not happen: the job is as it was, no attempt was written
    assert sql(jc, "SELECT state, attempts, lease_owner FROM jobctl.jobs WHERE id = %s",
               (job_id,)) == [("queued", 0, None)]  # fmt: skip
    assert sql(jc, "SELECT count(*) FROM jobctl.attempts") == [(0,)]
    # the daemon tries again (and is held again), then claims once the fault is gone
    wait_until(lambda: cut_held(jc), 30, 0.1, "the daemon claiming again")
    sql(jc, "DELETE FROM public.hold")
    job = jc.wait_state(job_id, "succeeded", timeout=60)
    assert job["attempts"] == 1
    assert sql(jc, "SELECT job_id, attempt FROM jobctl.attempts") == [(job_id, 1)]
    assert daemon.poll() is None, jc.daemon_log()


def test_an_enqueue_whose_connection_drops_is_exit_75_and_writes_nothing(held: Jobctl) -> None:
    jc = held
    sql(jc, "INSERT INTO public.hold VALUES ('jobs')")
    result: list[Result] = []
    enqueuer = threading.Thread(target=lambda: result.append(jc.run("enqueue", "--", "true")))
    enqueuer.start()
    try:
        wait_until(lambda: cut_held(jc), 30, 0.1, "an enqueue held mid-statement")
    finally:
        enqueuer.join(60)
    (res,) = result
    assert res.rc == 75 and len(res.err.splitlines()) == 1 and res.out == "", res
    assert sql(jc, "SELECT count(*) FROM jobctl.jobs") == [(0,)]
