"""The notification outbox on both backends: events written with the change that caused
them, routed once, claimed under a lease, settled, folded into digests."""

from __future__ import annotations

from datetime import timedelta

from jobctl.domain.failure import Decision
from jobctl.domain.job import FailureClass, State
from jobctl.domain.notify import Route, digest_due, parse_max_per, plan
from jobctl.domain.retry import RetryPolicy
from jobctl.domain.schedule import FireDecision, Outcome, Schedule
from jobctl.store import Store, open_store
from jobctl.store.repos.dispatch import Finish
from jobctl.store.repos.notify import Settled
from tests.support.clock import ManualClock
from tests.support.factories import claim, job_spec

RUNNER = "node-a:1:x"


def _run(store: Store, clock: ManualClock, ok: bool, duration: float = 1.0, **spec: object) -> int:
    """Enqueue a one-attempt job, claim it and finish it succeeded or dead."""
    spec.setdefault("retry", RetryPolicy(max_attempts=1))
    job_id = store.jobs.enqueue([job_spec(**spec)], clock.now())[0].id  # type: ignore[arg-type]
    (job,) = store.dispatch.claim(claim(), clock.now())
    decision = (
        Decision(State.SUCCEEDED, None)
        if ok
        else Decision(State.DEAD, FailureClass.EXIT, to_dlq=True)
    )
    finish = Finish(job_id, job.attempts, RUNNER, decision, exit_code=0 if ok else 3,
                    duration=duration, output_tail="line1\nboom\n")  # fmt: skip
    assert store.dispatch.finish([finish], clock.now())
    return job_id


def _kinds(store: Store) -> list[tuple[str, int | None]]:
    return [(e.kind, e.get("streak")) for e in reversed(store.notify.events())]


def test_dead_and_recovered_events_follow_the_streak_of_a_name(
    store: Store, clock: ManualClock
) -> None:
    # Given a named job that dies twice, then succeeds, then succeeds again
    for ok in (False, False, True, True):
        _run(store, clock, ok, name="nightly")
    # Then two dead events (streak 1, 2) and one recovered carrying the ended streak
    assert _kinds(store) == [("dead", 1), ("dead", 2), ("recovered", 2)]
    dead = store.notify.events()[-1]
    assert dead.get("exit_code") == 3 and dead.get("output_tail") == "line1\nboom\n"
    assert dead.get("node") == "node-a" and dead.subject == "name:nightly"


def test_a_failed_attempt_with_a_retry_left_is_a_failed_event(
    store: Store, clock: ManualClock
) -> None:
    job_id = store.jobs.enqueue([job_spec(name="n")], clock.now())[0].id
    (job,) = store.dispatch.claim(claim(), clock.now())
    retry = Decision(State.RETRYING, FailureClass.EXIT, retry_after=clock.now())
    store.dispatch.finish([Finish(job_id, job.attempts, RUNNER, retry, exit_code=1)], clock.now())
    (event,) = store.notify.events()
    assert (event.kind, event.get("retrying"), event.get("attempt")) == ("failed", True, 1)


def test_a_lost_finish_writes_no_event(store: Store, clock: ManualClock) -> None:
    # Given a finish whose lease was lost (another runner's), nothing is applied
    job_id = store.jobs.enqueue([job_spec()], clock.now())[0].id
    store.dispatch.claim(claim(), clock.now())
    dead = Decision(State.DEAD, FailureClass.EXIT, to_dlq=True)
    assert store.dispatch.finish([Finish(job_id, 1, "other:1:y", dead)], clock.now()) == []
    # Then no event was written either (same transaction)
    assert store.notify.events() == []


def _schedule(store: Store, clock: ManualClock, **fields: object) -> None:
    store.schedules.add(
        Schedule(name="s", cron="@daily", tz="UTC", command=["x"], **fields),  # type: ignore[arg-type]
        clock.now(),
    )


def test_pause_after_pauses_the_schedule_in_the_finish_transaction(
    store: Store, clock: ManualClock
) -> None:
    _schedule(store, clock, owner="billing", severity="page", pause_after=2)
    _run(store, clock, False, schedule="s")
    assert store.schedules.get("s").enabled
    _run(store, clock, False, schedule="s")
    paused = store.schedules.get("s")
    assert not paused.enabled and "2 consecutive failed runs" in (paused.paused_reason or "")
    kinds = [e.kind for e in reversed(store.notify.events())]
    assert kinds == ["dead", "dead", "paused"]
    assert store.notify.events()[0].get("owner") == "billing"


def test_resuming_an_auto_paused_schedule_counts_its_failures_afresh(
    store: Store, clock: ManualClock
) -> None:
    # Given a schedule auto-paused after 2 failed runs
    _schedule(store, clock, pause_after=2)
    _run(store, clock, False, schedule="s")
    _run(store, clock, False, schedule="s")
    assert not store.schedules.get("s").enabled
    # When the operator resumes it and it fails once more
    store.schedules.update("s", clock.now(), enabled=1, paused_reason=None)
    _run(store, clock, False, schedule="s")
    # Then it stays resumed (one failure after the resume, not a streak of 3)
    assert store.schedules.get("s").enabled
    assert next(e.get("streak") for e in store.notify.events()) == 1


def test_a_success_under_min_runtime_is_too_short(store: Store, clock: ManualClock) -> None:
    _schedule(store, clock, min_runtime=30.0)
    _run(store, clock, True, duration=2.0, schedule="s")
    _run(store, clock, True, duration=40.0, schedule="s")
    (event,) = store.notify.events()
    assert (event.kind, event.get("duration"), event.get("min_runtime")) == ("too_short", 2.0, 30)


def test_a_missed_fire_is_a_missed_event_once(store: Store, clock: ManualClock) -> None:
    _schedule(store, clock, severity="page")
    at = clock.now() - timedelta(hours=1)
    for _ in range(2):  # a second daemon racing for the same fire records nothing
        store.schedules.record_fires("s", [(FireDecision(at, Outcome.NO_DAEMON), None)],
                                     clock.now(), clock.now())  # fmt: skip
    (event,) = store.notify.events()
    assert (event.kind, event.get("reason"), event.get("severity")) == (
        "missed",
        "no_daemon",
        "page",
    )


def _router(routes: list[Route], now):  # type: ignore[no-untyped-def]
    return lambda events, windows: plan(events, routes, windows, now)


def test_events_are_routed_once_and_claimed_by_one_daemon(
    store: Store, clock: ManualClock, db_url: str
) -> None:
    # Given a dead job and a route to two channels
    _run(store, clock, False, name="n")
    route = Route("all", ("a", "b"), match={})
    now = clock.now()
    # When two daemons route and claim
    other = open_store(db_url)
    try:
        assert store.notify.route(now, _router([route], now)) == 1
        assert other.notify.route(now, _router([route], now)) == 0
        first = store.notify.claim(now, 1, lease=30)
        second = other.notify.claim(now, 10, lease=30)
    finally:
        other.close()
    # Then each delivery went to one of them, with its event
    assert len(first) == 1 and len(second) == 1
    assert {first[0].channel, second[0].channel} == {"a", "b"}
    assert first[0].event is not None and first[0].event.kind == "dead"
    # And a lease that runs out makes the delivery due again (the sender died)
    later = now + timedelta(seconds=31)
    (again,) = store.notify.claim(later, 1, 30, {second[0].channel: 1}, per_channel=1)
    assert (again.id, again.attempts) == (first[0].id, 2)
    assert not store.notify.settle([Settled(first[0].id, 1, "HTTP 200")], later)  # old lease
    assert store.notify.settle([Settled(again.id, 2, "HTTP 200")], later) == 1
    assert store.notify.get(again.id).state == "delivered"


def test_a_failed_attempt_retries_then_goes_dead_and_retry_revives_it(
    store: Store, clock: ManualClock
) -> None:
    _run(store, clock, False)
    now = clock.now()
    store.notify.route(now, _router([Route("r", ("c",), match={})], now))
    (d,) = store.notify.claim(now, 5, lease=30)
    assert store.notify.settle(
        [Settled(d.id, 1, None, "HTTP 500", now + timedelta(seconds=2))], now
    )
    assert store.notify.claim(now, 5, lease=30) == []  # not due yet
    (d,) = store.notify.claim(now + timedelta(seconds=2), 5, lease=30)
    assert store.notify.settle([Settled(d.id, 2, None, "timed out after 10s")], now)
    assert [x.state for x in store.notify.list(["dead"])] == ["dead"]
    assert store.notify.retry(d.id, now).state == "pending"
    assert len(store.notify.claim(now, 5, lease=30)) == 1


def test_over_max_per_is_folded_into_one_digest_when_the_window_ends(
    store: Store, clock: ManualClock
) -> None:
    route = Route("r", ("c",), match={}, max_per=parse_max_per("2/30m"))
    for _ in range(5):
        _run(store, clock, False)
    now = clock.now()
    store.notify.route(now, _router([route], now))
    states = sorted(d.state for d in store.notify.list())
    assert states == ["folded", "folded", "folded", "pending", "pending"]

    def due(name, window):  # type: ignore[no-untyped-def]
        return digest_due(window, route.max_per, at)

    at = now + timedelta(minutes=10)
    assert store.notify.digests(at, due) == 0
    at = now + timedelta(minutes=30)
    assert store.notify.digests(at, due) == 1
    assert store.notify.digests(at, due) == 0
    digests = [d for d in store.notify.claim(at, 10, lease=30) if d.kind == "digest"]
    assert len(digests) == 1 and len(digests[0].folded) == 3


def test_a_daemon_gone_silent_is_node_down_once(store: Store, clock: ManualClock) -> None:
    from jobctl.store.repos.daemons import DaemonInfo

    now = clock.now()
    for name in ("a", "b"):
        store.daemons.register(
            DaemonInfo(id=f"{name}:1:x", node=name, host=name, pid=1, version="t", queues=None,
                       started_at=now, heartbeat_at=now, heartbeat_interval=1.0)
        )  # fmt: skip
    store.daemons.stopped("b:1:x", now)  # a clean stop is not a node down
    later = now + timedelta(seconds=10)
    assert store.notify.record_node_down(later) == 1
    assert store.notify.record_node_down(later) == 0
    (event,) = store.notify.events()
    assert (event.kind, event.get("node")) == ("node_down", "a")


def test_dead_letters_over_the_threshold_are_dlq_growth_once_per_window(
    store: Store, clock: ManualClock
) -> None:
    for _ in range(3):
        _run(store, clock, False, queue="bulk")
    assert store.notify.record_dlq_growth(clock.now(), over=3) == 0
    assert store.notify.record_dlq_growth(clock.now(), over=2) == 1
    assert store.notify.record_dlq_growth(clock.now(), over=2) == 0
    growth = [e for e in store.notify.events() if e.kind == "dlq_growth"]
    assert [(e.get("queue"), e.get("added")) for e in growth] == [("bulk", 3)]
