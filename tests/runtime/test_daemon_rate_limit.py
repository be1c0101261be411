"""The daemon passes each queue's configured rate limit to its claims."""

from __future__ import annotations

from pathlib import Path

from jobctl.config.model import Config, QueueConfig
from jobctl.domain.job import State
from jobctl.store import Store
from tests.runtime.test_daemon import make_daemon
from tests.support.clock import ManualClock
from tests.support.factories import job_spec


def test_a_rate_limited_tenant_waits_for_the_next_window(
    store: Store, clock: ManualClock, tmp_path: Path
) -> None:
    config = Config(queues=(QueueConfig("bulk", rate_limit="2/m per tenant"),))
    specs = [job_spec(queue="bulk", tenant="acme") for _ in range(5)]
    acme = [e.id for e in store.jobs.enqueue(specs, clock.now())]
    globex = store.jobs.enqueue([job_spec(queue="bulk", tenant="globex")], clock.now())[0].id
    daemon = make_daemon(store, clock, tmp_path, config)
    daemon.start()
    try:
        daemon.run_until_idle()
        states = [store.jobs.get(i).state for i in acme]
        assert states.count(State.SUCCEEDED) == 2 and states.count(State.QUEUED) == 3
        assert store.jobs.get(globex).state is State.SUCCEEDED
        clock.advance(61)
        daemon.run_until_idle()
        assert [store.jobs.get(i).state for i in acme].count(State.SUCCEEDED) == 4
    finally:
        daemon.drain()
        daemon.close()
