"""The scheduler tick by tick with a manual clock: misfire, overlap, shadow, pause, DST skip,
exactly-once under racing schedulers."""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime, timedelta

import pytest

from jobctl.config.model import Config
from jobctl.config.schedules import build_schedule
from jobctl.config.switches import ShadowMode
from jobctl.domain.job import State
from jobctl.domain.schedule import MISFIRE_CAP
from jobctl.runtime.eventlog import EventLog
from jobctl.runtime.scheduler import Scheduler
from jobctl.store import Store, open_store
from tests.support.clock import ManualClock

START = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)


def scheduler(store: Store, clock: ManualClock) -> Scheduler:
    return Scheduler(store, clock, EventLog("logfmt", io.StringIO()), Config, random.Random(3))


def add(store: Store, clock: ManualClock, name: str = "s", **fields: object) -> None:
    spec = {"cron": "* * * * *", "tz": "UTC", "command": ["true"], **fields}
    store.schedules.add(build_schedule(name, spec), clock.now())


def outcomes(store: Store, name: str = "s") -> list[str]:
    return [f.outcome for f in reversed(store.schedules.fires(name, None))]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


def test_each_due_fire_becomes_one_job_with_its_nominal_time(store: Store, clock) -> None:
    add(store, clock)
    sched = scheduler(store, clock)
    sched.start(clock.now())
    clock.advance(61)
    assert sched.tick(clock.now()) == 1
    (job,) = store.jobs.list(clock.now())
    assert (job.schedule, job.nominal_at, job.run_at) == (
        "s",
        START + timedelta(minutes=1),
        START + timedelta(minutes=1),
    )
    assert sched.tick(clock.now()) == 0, "a handled fire is not fired again"


@pytest.mark.parametrize(
    "policy,jobs,ledger",
    [
        ("skip", 1, ["no_daemon"] * 5 + ["enqueued"]),
        ("once", 2, ["no_daemon"] * 4 + ["enqueued", "enqueued"]),
        ("all", 6, ["enqueued"] * 6),
    ],
)
def test_misfire_policies_after_downtime(store: Store, clock, policy, jobs, ledger) -> None:
    add(store, clock, misfire=policy, overlap="allow")
    # Five fires (12:01-12:05) are more than the 60 s grace late; 12:06 is on time
    clock.advance(5 * 60 + 90)
    sched = scheduler(store, clock)
    sched.start(clock.now())
    sched.tick(clock.now())
    assert len(store.jobs.list(clock.now())) == jobs
    assert outcomes(store) == ledger


def test_overlap_forbid_records_the_skip(store: Store, clock) -> None:
    add(store, clock, overlap="forbid")
    sched = scheduler(store, clock)
    sched.start(clock.now())
    clock.advance(60)
    sched.tick(clock.now())
    clock.advance(60)  # the first job never ran: it is still live
    sched.tick(clock.now())
    assert outcomes(store) == ["enqueued", "overlap"]
    assert len(store.jobs.list(clock.now())) == 1


def test_overlap_replace_cancels_the_live_run(store: Store, clock) -> None:
    add(store, clock, overlap="replace")
    sched = scheduler(store, clock)
    sched.start(clock.now())
    for _ in range(2):
        clock.advance(60)
        sched.tick(clock.now())
    first, second = sorted(store.jobs.list(clock.now()), key=lambda j: j.id)
    assert (first.state, second.state) == (State.CANCELLED, State.QUEUED)
    assert sched.take_replaced() is True, "the daemon is told to look for cancel requests"
    assert sched.take_replaced() is False


def test_misfire_grace_is_the_schedulers_choice(store: Store, clock) -> None:
    add(store, clock, misfire="skip", overlap="allow")
    clock.advance(5 * 60 + 45)  # fires at +1 … +5 min; the last is 45 s late
    sched = Scheduler(
        store,
        clock,
        EventLog("logfmt", io.StringIO()),
        Config,
        random.Random(3),
        timedelta(seconds=30),
    )
    sched.start(clock.now())
    sched.tick(clock.now())
    assert outcomes(store) == ["no_daemon"] * 5, "45 s late is past a 30 s grace"
    assert sched.take_replaced() is False


def test_the_misfire_grace_never_exceeds_the_schedules_interval(store: Store, clock) -> None:
    # Given a per-second schedule with --misfire skip and the default 60 s grace
    add(store, clock, cron="* * * * * *", misfire="skip", overlap="allow")
    # When its daemon was down for 4 s (fires +1 … +4 s fell due) and ticks at +4.5 s
    clock.advance(4.5)
    sched = scheduler(store, clock)
    sched.start(clock.now())
    sched.tick(clock.now())
    # Then the fires whose successor was already due are missed, not run late; +4 is on time
    assert outcomes(store) == ["no_daemon"] * 3 + ["enqueued"]
    (job,) = store.jobs.list(clock.now())
    assert job.nominal_at == START + timedelta(seconds=4)


def test_overlap_allow_enqueues_every_fire(store: Store, clock) -> None:
    add(store, clock, overlap="allow")
    sched = scheduler(store, clock)
    sched.start(clock.now())
    for _ in range(3):
        clock.advance(60)
        sched.tick(clock.now())
    assert len(store.jobs.list(clock.now())) == 3


def test_shadow_records_without_running_and_promote_activates(store: Store, clock) -> None:
    add(store, clock, shadow=True)
    sched = scheduler(store, clock)
    sched.start(clock.now())
    clock.advance(60)
    sched.tick(clock.now())
    assert store.jobs.list(clock.now()) == []
    store.schedules.update("s", clock.now(), shadow=0)
    clock.advance(60)
    sched.refresh(force=True)
    sched.tick(clock.now())
    assert outcomes(store) == ["shadow", "enqueued"]


@pytest.mark.parametrize(
    "edit,ledger",
    [({"shadow": 1}, ["shadow"]), ({"enabled": 0}, ["paused"]), (None, [])],
    ids=["demoted", "paused", "removed"],
)
def test_a_fire_decided_before_an_edit_of_its_schedule_is_decided_again(
    store: Store, clock, edit, ledger
) -> None:
    add(store, clock)
    sched = scheduler(store, clock)
    sched.start(clock.now())
    clock.advance(60)
    # Given a scheduler that has read the schedule just before an operator edits it (its
    # own re-read comes at most once a second)
    sched.refresh()
    if edit is None:
        store.schedules.remove("s")
    else:
        store.schedules.update("s", clock.now(), **edit)
    # When its due fire is handled
    assert sched.tick(clock.now()) == 0
    # Then it is decided on the schedule as edited: no job, recorded as such
    assert store.jobs.list(clock.now()) == []
    assert (outcomes(store) if edit else []) == ledger


def test_paused_schedule_and_paused_queue_record_paused(store: Store, clock) -> None:
    add(store, clock)
    add(store, clock, "q", queue="held")
    store.schedules.update("s", clock.now(), enabled=0)
    store.queues.set_paused("held", True, clock.now())
    sched = scheduler(store, clock)
    sched.start(clock.now())
    clock.advance(60)
    sched.tick(clock.now())
    assert outcomes(store, "s") == ["paused"] and outcomes(store, "q") == ["paused"]


def test_dst_gap_skip_is_recorded(store: Store) -> None:
    clock = ManualClock(datetime(2026, 3, 28, 23, 0, tzinfo=UTC))
    add(store, clock, cron="30 2 * * *", tz="Europe/Berlin", dst_gap="skip")
    sched = scheduler(store, clock)
    sched.start(clock.now())
    clock.advance(6 * 3600)  # past 2026-03-29 02:00 → 03:00 in Berlin
    sched.tick(clock.now())
    assert outcomes(store) == ["dst_skip"] and store.jobs.list(clock.now()) == []


def test_dst_gap_run_fires_once_right_after_the_jump(store: Store) -> None:
    clock = ManualClock(datetime(2026, 3, 28, 23, 0, tzinfo=UTC))
    add(store, clock, cron="30 2 * * *", tz="Europe/Berlin")
    sched = scheduler(store, clock)
    sched.start(clock.now())
    clock.advance(6 * 3600)
    sched.tick(clock.now())
    (job,) = store.jobs.list(clock.now())
    assert job.nominal_at == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 03:00 CEST


def test_racing_schedulers_enqueue_each_fire_once(db_path, clock) -> None:
    stores = [open_store(str(db_path)) for _ in range(3)]
    try:
        add(stores[0], clock, cron="* * * * * *", overlap="allow")
        scheds = [scheduler(s, clock) for s in stores]
        for sched in scheds:
            sched.start(clock.now())
        for _ in range(30):
            clock.advance(1)
            for sched in random.Random(1).sample(scheds, 3):
                sched.tick(clock.now())
        jobs = stores[0].jobs.list(clock.now(), limit=1000)
        nominal = [j.nominal_at for j in jobs]
        assert len(jobs) == 30 and len(set(nominal)) == 30
    finally:
        for s in stores:
            s.close()


def booted(store: Store, clock: ManualClock, boot: str, config: Config | None = None) -> Scheduler:
    """A daemon's scheduler starting now, in boot `boot` of the node."""
    sched = Scheduler(
        store,
        clock,
        EventLog("logfmt", io.StringIO()),
        lambda: config or Config(),
        random.Random(3),
        boot_id=boot,
        node="n1",
    )
    sched.start(clock.now())
    return sched


def test_reboot_fires_once_per_boot_not_per_daemon_start(db_path, clock) -> None:
    # Given an @reboot schedule and two store handles (two daemons of the node)
    stores = [open_store(str(db_path)) for _ in range(2)]
    try:
        add(stores[0], clock, cron="@reboot", overlap="allow")
        # When the first daemon after boot A starts, restarts twice, and a second one starts
        for store in (stores[0], stores[0], stores[0], stores[1]):
            clock.advance(5)
            booted(store, clock, "boot-a")
        # Then the schedule ran once, at the time the boot was first seen
        (job,) = stores[0].jobs.list(clock.now())
        assert job.nominal_at == START + timedelta(seconds=5)
        # When the node boots again, it runs again, once
        clock.advance(3600)
        booted(stores[1], clock, "boot-b")
        booted(stores[0], clock, "boot-b")
        assert len(stores[0].jobs.list(clock.now())) == 2
        assert outcomes(stores[0]) == ["enqueued", "enqueued"]
    finally:
        for store in stores:
            store.close()


@pytest.mark.parametrize(
    "fields,config,outcome",
    [
        ({"shadow": True}, None, "shadow"),  # imported: shadow by default
        ({"enabled": False}, None, "paused"),
        ({}, Config(shadow_mode=ShadowMode(enabled=True)), "shadow"),
        ({}, Config(enabled=False), "disabled"),
    ],
)
def test_a_reboot_schedule_that_must_not_run_never_runs(
    store: Store, clock, fields: dict, config: Config | None, outcome: str
) -> None:
    # Given an @reboot schedule that is shadow, paused or held back by config
    add(store, clock, cron="@reboot", **fields)
    # When daemons start in three boots (and restart in each)
    for boot in ("a", "a", "b", "c", "c"):
        clock.advance(10)
        booted(store, clock, boot, config)
    # Then it never ran: each boot's fire is in the ledger once, with the reason
    assert store.jobs.list(clock.now()) == []
    assert outcomes(store) == [outcome] * 3


def test_a_reboot_schedule_made_during_a_boot_first_fires_at_the_next(store: Store, clock) -> None:
    booted(store, clock, "a")
    clock.advance(60)
    add(store, clock, cron="@reboot")
    booted(store, clock, "a")  # a restart in the same boot
    assert store.jobs.list(clock.now()) == []
    booted(store, clock, "b")
    assert len(store.jobs.list(clock.now())) == 1


def test_a_racing_daemon_does_not_cancel_the_run_of_a_fire_it_lost(db_path, clock) -> None:
    # Given an overlap-replace schedule and two daemons' schedulers
    stores = [open_store(str(db_path)) for _ in range(2)]
    try:
        add(stores[0], clock, overlap="replace")
        first, second = (scheduler(s, clock) for s in stores)
        first.start(clock.now())
        second.start(clock.now())
        # When both handle the same fire, one after the other
        clock.advance(60)
        assert first.tick(clock.now()) == 1
        assert second.tick(clock.now()) == 0
        # Then the fire's run stands: the loser neither enqueued nor cancelled anything
        (job,) = stores[0].jobs.list(clock.now())
        assert job.state is State.QUEUED and second.take_replaced() is False
    finally:
        for store in stores:
            store.close()


def test_config_reconcile_creates_updates_removes_only_config_schedules(store: Store, clock):
    add(store, clock, "cli-made")
    config_one = build_schedule(
        "nightly", {"cron": "0 3 * * *", "tz": "UTC", "command": ["true"]}, origin="config"
    )
    assert store.schedules.reconcile_config([config_one], clock.now()) == (1, 0, 0)
    changed = build_schedule(
        "nightly", {"cron": "0 4 * * *", "tz": "UTC", "command": ["true"]}, origin="config"
    )
    assert store.schedules.reconcile_config([changed], clock.now()) == (0, 1, 0)
    assert store.schedules.get("nightly").cron == "0 4 * * *"
    assert store.schedules.reconcile_config([], clock.now()) == (0, 0, 1)
    assert [s.name for s in store.schedules.list()] == ["cli-made"]


def test_misfire_all_runs_at_most_the_cap_of_the_latest_missed_fires(store: Store, clock) -> None:
    add(store, clock, cron="* * * * * *", misfire="all", overlap="allow")
    clock.advance(300.5)  # 300 fires: all but the last came before their successor was due
    sched = scheduler(store, clock)
    sched.start(clock.now())
    sched.tick(clock.now())
    ledger = outcomes(store)
    assert len(ledger) == 300
    assert ledger == ["no_daemon"] * (299 - MISFIRE_CAP) + ["enqueued"] * (MISFIRE_CAP + 1)
    assert len(store.jobs.list(clock.now(), limit=1000)) == MISFIRE_CAP + 1


def test_jitter_spreads_each_run_within_its_bound(store: Store, clock) -> None:
    add(store, clock, jitter="30s", overlap="allow")
    sched = scheduler(store, clock)
    sched.start(clock.now())
    for _ in range(5):
        clock.advance(60)
        sched.tick(clock.now())
    jobs = store.jobs.list(clock.now())
    delays = [(j.run_at - j.nominal_at).total_seconds() for j in jobs]
    assert len(delays) == 5 and all(0 <= d <= 30 for d in delays), delays
    assert len(set(delays)) == 5, "each fire draws its own delay"


def _configured(**fields: object) -> Config:
    return Config(**fields)  # type: ignore[arg-type]


def test_disabled_by_config_every_fire_is_recorded_disabled(store: Store, clock) -> None:
    # Given `enabled: false` and an active schedule
    add(store, clock, overlap="allow")
    config = _configured(enabled=False)
    sched = Scheduler(
        store, clock, EventLog("logfmt", io.StringIO()), lambda: config, random.Random(3)
    )
    sched.start(clock.now())
    # When two fires fall due
    for _ in range(2):
        clock.advance(60)
        sched.tick(clock.now())
    # Then nothing is enqueued and the ledger says why
    assert store.jobs.list(clock.now()) == []
    assert outcomes(store) == ["disabled", "disabled"]


def test_shadow_mode_makes_unset_schedules_shadow_until_promoted_or_turned_off(
    store: Store, clock
) -> None:
    # Given shadow_mode on, a schedule that does not set shadow and one promoted (shadow false)
    add(store, clock, "unset")
    add(store, clock, "promoted", shadow=False)
    config = _configured(shadow_mode=ShadowMode(enabled=True))
    sched = Scheduler(
        store, clock, EventLog("logfmt", io.StringIO()), lambda: config, random.Random(3)
    )
    sched.start(clock.now())
    clock.advance(60)
    sched.tick(clock.now())
    # Then the unset one only records its fire; the promoted one runs
    assert outcomes(store, "unset") == ["shadow"] and outcomes(store, "promoted") == ["enqueued"]
    # When shadow_mode is turned off, the unset one is active again
    config = _configured()
    clock.advance(60)
    sched.tick(clock.now())
    assert outcomes(store, "unset") == ["shadow", "enqueued"]


def test_sampling_percent_records_a_stable_share_of_shadow_fires(db_path, clock) -> None:
    # Given shadow_mode at 25 % and a per-second shadow schedule, seen by two daemons' stores
    config = _configured(shadow_mode=ShadowMode(enabled=True, sampling_percent=25))
    recorded = []
    for run in range(2):
        store = open_store(str(db_path.with_name(f"run{run}.db")))
        try:
            add(store, ManualClock(START), cron="* * * * * *")
            sched = Scheduler(
                store,
                ManualClock(START),
                EventLog("logfmt", io.StringIO()),
                lambda: config,
                random.Random(run),
            )
            sched.start(START)
            for second in range(1, 401):
                sched.tick(START + timedelta(seconds=second))
            recorded.append([f.nominal_at for f in store.schedules.fires("s", None)])
            assert set(outcomes(store)) == {"shadow"}
        finally:
            store.close()
    # Then about a quarter of the 400 fires are in the ledger, the same ones every time
    assert 60 <= len(recorded[0]) <= 140, len(recorded[0])
    assert recorded[0] == recorded[1]


def test_a_schedules_user_is_who_its_jobs_run_as(store: Store, clock) -> None:
    add(store, clock, user="nobody")
    sched = scheduler(store, clock)
    sched.start(clock.now())
    clock.advance(60)
    sched.tick(clock.now())
    (job,) = store.jobs.list(clock.now())
    assert store.jobs.get(job.id).user == "nobody"
