"""The daemon's notification loop driven by hand with a manual clock: routing rules end to
end (after: N, on_recovery with PagerDuty's dedup key, not while retrying), and the scans
for too_long and deadline."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jobctl.config.check import load_config
from jobctl.domain.failure import Decision
from jobctl.domain.job import FailureClass, State
from jobctl.domain.retry import RetryPolicy
from jobctl.domain.schedule import Schedule
from jobctl.runtime.notify import NotifyHook
from jobctl.store import Store
from jobctl.store.repos.dispatch import Finish
from tests.support.clock import ManualClock
from tests.support.factories import claim, job_spec
from tests.support.receivers import HttpReceiver, http_receiver

T0 = datetime(2030, 3, 4, 1, 0, tzinfo=UTC)


@pytest.fixture
def rx() -> Iterator[HttpReceiver]:
    with http_receiver() as receiver:
        yield receiver


def _hook(
    store: Store, tmp_path: Path, clock: ManualClock, rx: HttpReceiver, route: str
) -> NotifyHook:
    key = tmp_path / "pd.key"
    key.write_text("KEY\n")
    path = tmp_path / "c.yaml"
    path.write_text(
        "notify:\n  channels:\n"
        f"    - {{name: pd, pagerduty: {{routing_key_file: {key}, url: '{rx.url}/enqueue'}}}}\n"
        f"  routes:\n    - {route}\n"
    )
    return NotifyHook(store.url, load_config(path), clock)


def _finish(
    store: Store, clock: ManualClock, state: State, retries: int = 1, **spec: object
) -> None:
    store.jobs.enqueue([job_spec(retry=RetryPolicy(max_attempts=retries), **spec)], clock.now())  # type: ignore[arg-type]
    (job,) = store.dispatch.claim(claim(), clock.now())
    if state is State.SUCCEEDED:
        decision = Decision(State.SUCCEEDED, None)
    elif state is State.RETRYING:
        decision = Decision(
            State.RETRYING, FailureClass.EXIT, retry_after=clock.now() + timedelta(hours=1)
        )
    else:
        decision = Decision(State.DEAD, FailureClass.EXIT, to_dlq=True)
    store.dispatch.finish(
        [Finish(job.id, job.attempts, "node-a:1:x", decision, exit_code=1)], clock.now()
    )


def _run(hook: NotifyHook) -> None:
    hook.work()
    hook.settle(wait=5)
    hook.work()


def test_after_two_pages_once_per_streak_and_recovery_resolves_it(
    store: Store, tmp_path: Path, clock: ManualClock, rx: HttpReceiver
) -> None:
    hook = _hook(store, tmp_path, clock, rx,
                 "{match: {event: dead}, to: [pd], after: 2, on_recovery: true}")  # fmt: skip
    for state in (State.DEAD, State.DEAD, State.DEAD, State.SUCCEEDED, State.DEAD):
        _finish(store, clock, state, name="nightly")
        _run(hook)
    sent = [(b["event_action"], b["dedup_key"]) for b in rx.bodies()]
    assert sent == [("trigger", "jobctl/name:nightly"), ("resolve", "jobctl/name:nightly")]


def test_a_failure_with_a_retry_left_waits_unless_while_retrying(
    store: Store, tmp_path: Path, clock: ManualClock, rx: HttpReceiver
) -> None:
    quiet = _hook(store, tmp_path, clock, rx, "{match: {}, to: [pd]}")
    _finish(store, clock, State.RETRYING, retries=3, name="a")
    _run(quiet)
    assert rx.bodies() == []
    loud = _hook(store, tmp_path, clock, rx, "{match: {}, to: [pd], while_retrying: true}")
    _finish(store, clock, State.RETRYING, retries=3, name="b")
    _run(loud)
    assert [b["payload"]["custom_details"]["event"] for b in rx.bodies()] == ["failed"]


def _to(clock: ManualClock, when: datetime) -> None:
    clock.advance((when - clock.now()).total_seconds())


def _schedule(store: Store, now: datetime, **fields: object) -> None:
    store.schedules.add(
        Schedule(name="s", cron="0 2 * * *", tz="UTC", command=["x"], **fields),  # type: ignore[arg-type]
        now,
    )


def test_a_run_past_max_runtime_is_too_long_once(
    store: Store, tmp_path: Path, rx: HttpReceiver
) -> None:
    clock = ManualClock(T0)
    _schedule(store, clock.now(), max_runtime=60.0, severity="page")
    store.jobs.enqueue([job_spec(schedule="s")], clock.now())
    store.dispatch.claim(claim(), clock.now())
    hook = _hook(store, tmp_path, clock, rx, "{match: {event: too_long}, to: [pd]}")
    clock.advance(59)
    hook.scan(clock.now())
    clock.advance(2)
    hook.scan(clock.now())
    hook.scan(clock.now())
    _run(hook)
    (body,) = rx.bodies()
    details = body["payload"]["custom_details"]
    assert (details["event"], details["running_for"]) == ("too_long", 61.0)
    assert body["payload"]["severity"] == "critical"


def test_deadline_reports_a_day_without_a_successful_run_once(
    store: Store, tmp_path: Path, rx: HttpReceiver
) -> None:
    clock = ManualClock(T0 - timedelta(days=2))
    _schedule(store, clock.now(), deadline="06:00")
    hook = _hook(store, tmp_path, clock, rx, "{match: {event: deadline}, to: [pd]}")
    # Day one: the 02:00 run succeeds at 03:00; at 06:30 nothing is late
    _to(clock, T0 + timedelta(hours=2))  # 03:00
    _finish(store, clock, State.SUCCEEDED, schedule="s")
    _to(clock, T0 + timedelta(hours=5, minutes=30))  # 06:30
    hook.scan(clock.now())
    # Day two: no run succeeds; at 05:59 the deadline has not come yet, at 07:00 it passed
    _to(clock, T0 + timedelta(days=1, hours=4, minutes=59))
    hook.scan(clock.now())
    assert store.notify.events() == []
    _to(clock, T0 + timedelta(days=1, hours=6))
    hook.scan(clock.now())
    hook.scan(clock.now())
    (event,) = store.notify.events()
    assert (event.kind, event.get("deadline_at")) == ("deadline", "2030-03-05T06:00:00Z")


def test_an_imported_mailto_mails_output_and_failures_like_cron(
    store: Store, tmp_path: Path, clock: ManualClock
) -> None:
    from jobctl.ops.crontab_import import apply_import, plan_import
    from tests.support.receivers import smtp_receiver

    # Given a crontab with MAILTO imported (and one line after MAILTO="")
    text = "MAILTO=ops@example.com\n@daily /usr/bin/report\nMAILTO=''\n@hourly /usr/bin/quiet\n"
    plan = plan_import(store, text, str(tmp_path / "crontab"), clock.now(), shadow=False)
    apply_import(store, plan, clock.now())
    report, quiet = sorted(plan.create, key=lambda s: s.cron != "@daily")
    assert (report.mailto, quiet.mailto) == ("ops@example.com", None)
    with smtp_receiver(tmp_path) as box:
        path = tmp_path / "c.yaml"
        path.write_text(
            "notify:\n  channels:\n    - {name: mailto, email: {to: [root@localhost],"
            f" from: cron@example.com, smtp: 'smtp://127.0.0.1:{box.port}'}}}}\n"
        )
        hook = NotifyHook(store.url, load_config(path), clock)
        # When runs succeed with output, succeed silently, and fail
        for state, tail, schedule in [
            (State.SUCCEEDED, "report done\n", report.name),
            (State.SUCCEEDED, "", report.name),
            (State.DEAD, "boom\n", report.name),
            (State.DEAD, "boom\n", quiet.name),
        ]:
            store.jobs.enqueue(
                [job_spec(schedule=schedule, retry=RetryPolicy(max_attempts=1))], clock.now()
            )
            (job,) = store.dispatch.claim(claim(), clock.now())
            decision = (
                Decision(State.SUCCEEDED, None)
                if state is State.SUCCEEDED
                else Decision(State.DEAD, FailureClass.EXIT, to_dlq=True)
            )
            store.dispatch.finish(
                [Finish(job.id, job.attempts, "node-a:1:x", decision, output_tail=tail)],
                clock.now(),
            )
        _run(hook)
        # Then cron's rule: one mail for the output, one for the failure, none for the rest
        subjects = sorted(m["Subject"] for m in box.messages)
        recipients = {m["To"] for m in box.messages}
    assert len(subjects) == 2 and recipients == {"ops@example.com"}
    assert subjects[0].startswith("[jobctl] dead: schedule cron-") and "output: " in subjects[1]


def test_a_reload_that_changes_routes_is_audited_without_secrets(
    store: Store, tmp_path: Path, clock: ManualClock, rx: HttpReceiver
) -> None:
    from types import SimpleNamespace

    hook = _hook(store, tmp_path, clock, rx, "{match: {event: dead}, to: [pd]}")
    hook._daemon = SimpleNamespace(store=store)  # type: ignore[assignment]
    hook.on_reload(hook.config, clock.now())  # unchanged: nothing audited
    assert store.audit.list() == []
    changed = _hook(store, tmp_path, clock, rx, "{match: {event: [dead, missed]}, to: [pd]}")
    hook.on_reload(changed.config, clock.now())
    (entry,) = store.audit.list()
    assert entry.action == "notify.routes"
    assert entry.args["routes"][0]["match"] == {"event": ["dead", "missed"]}
    assert "KEY" not in str(entry.args)
