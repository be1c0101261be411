"""Run-once decisions and records over a real SQLite store, with `now` and liveness injected."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from jobctl.errors import InvalidInput, JobctlError, NotFound
from jobctl.ops import checkpoints, once
from jobctl.store import Store
from jobctl.store.repos.once import OnceRecord
from tests.support.clock import ManualClock


def claim_of(holder: str, clock: ManualClock, resumable: bool = False, pid: int = 4242):
    return once.new_claim(holder, "alice", "host-a", pid, 77, ["migrate"], clock.now(), resumable)


def run(store: Store, clock: ManualClock, holder: str, alive=once.never_known, **kw) -> str:
    return once.claim(
        store, "m1", ["migrate"], clock.now(), claim_of(holder, clock, **kw), alive
    ).kind


def test_a_name_runs_until_it_succeeds_then_never_again(store: Store, clock: ManualClock) -> None:
    assert run(store, clock, "h1") == "run"
    store.once.finish("m1", "h1", clock.now(), 3, None, "boom", None)
    assert once.effective_state(store.once.get("m1"), clock.now()) == "failed"
    # a failed run may run again
    assert run(store, clock, "h2") == "run"
    clock.advance(5)
    store.once.finish("m1", "h2", clock.now(), 0, None, "ok", None)
    outcome = once.claim(store, "m1", ["migrate"], clock.now(), claim_of("h3", clock))
    assert outcome.kind == "done"
    record = outcome.record
    assert record is not None and (record.state, record.exit_code, record.runs) == (
        "succeeded",
        0,
        2,
    )
    assert record.actor == "alice" and record.finished_at == clock.now()
    assert "already done" in once.done_message(record) and "alice" in once.done_message(record)


def test_a_live_claim_makes_others_busy_until_its_lease_expires(
    store: Store, clock: ManualClock
) -> None:
    assert run(store, clock, "h1") == "run"
    assert run(store, clock, "h2") == "busy"
    clock.advance(once.LEASE - 1)
    assert store.once.renew("m1", "h1", clock.now() + timedelta(seconds=once.LEASE))
    clock.advance(once.LEASE - 1)
    assert run(store, clock, "h2") == "busy", "a renewed lease holds"
    clock.advance(2)
    assert run(store, clock, "h2") == "run", "an expired lease counts as failed"
    assert not store.once.renew("m1", "h1", clock.now()), "the old holder lost it"
    assert not store.once.finish("m1", "h1", clock.now(), 0, None, None, None)
    assert store.once.get("m1").state == "running"


def test_a_dead_holder_on_this_host_frees_the_name_at_once(
    store: Store, clock: ManualClock
) -> None:
    assert run(store, clock, "h1") == "run"
    store.once.started("m1", "h1", 5151, 99)
    procs = {4242: True, 5151: True}

    def alive(host: str | None, pid: int | None, start: int | None) -> bool | None:
        return procs.get(pid or 0, False)

    assert run(store, clock, "h2", alive) == "busy"
    procs[4242] = False  # the wrapper died (kill -9) but its CMD still works: still busy
    assert run(store, clock, "h2", alive) == "busy"
    clock.advance(once.LEASE * 3)
    assert run(store, clock, "h2", alive) == "busy", "a live CMD keeps its claim past the lease"
    procs[5151] = False
    assert once.effective_state(store.once.get("m1"), clock.now(), alive) == "failed"
    assert run(store, clock, "h2", alive) == "run"


def test_resumable_keeps_the_checkpoint_a_fresh_run_drops_it(
    store: Store, clock: ManualClock
) -> None:
    run(store, clock, "h1")
    owner = checkpoints.current_owner({"JOBCTL_ONCE": "m1", "JOBCTL_JOB_ID": "3"})
    checkpoints.save(store, owner, "slice-4")
    assert checkpoints.get(store, owner) == "slice-4"
    store.once.finish("m1", "h1", clock.now(), 1, None, None, None)
    run(store, clock, "h2", resumable=True)
    assert store.once.get("m1").checkpoint == "slice-4"
    store.once.finish("m1", "h2", clock.now(), 1, None, None, None)
    run(store, clock, "h3")
    assert store.once.get("m1").checkpoint is None


def test_checkpoint_owner_comes_from_the_environment() -> None:
    assert checkpoints.current_owner({"JOBCTL_JOB_ID": "12"}) == checkpoints.Owner(job_id=12)
    with pytest.raises(InvalidInput, match="JOBCTL_JOB_ID"):
        checkpoints.current_owner({})
    with pytest.raises(InvalidInput, match="'x'"):
        checkpoints.current_owner({"JOBCTL_JOB_ID": "x"})


def test_reset_forgets_a_finished_name_but_not_a_running_one(
    store: Store, clock: ManualClock
) -> None:
    with pytest.raises(NotFound):
        once.reset(store, "m1", clock.now())
    run(store, clock, "h1")
    with pytest.raises(JobctlError, match="running elsewhere"):
        once.reset(store, "m1", clock.now())
    store.once.finish("m1", "h1", clock.now(), 0, None, None, None)
    assert once.reset(store, "m1", clock.now()).state == "succeeded"
    assert store.once.find("m1") is None
    assert run(store, clock, "h2") == "run"


def test_shape_has_the_spec_keys(store: Store, clock: ManualClock) -> None:
    run(store, clock, "h1")
    shape = once.once_shape(store.once.get("m1"), clock.now())
    keys = {"name", "state", "actor", "started_at", "finished_at", "exit_code", "checkpoint"}
    assert keys <= set(shape) and shape["state"] == "running"
    assert shape["started_at"].endswith("Z")


def test_bad_input_is_rejected_before_anything_is_written(store: Store, clock: ManualClock) -> None:
    with pytest.raises(InvalidInput):
        once.claim(store, "", ["x"], clock.now(), claim_of("h", clock))
    with pytest.raises(InvalidInput, match="after --"):
        once.claim(store, "m1", [], clock.now(), claim_of("h", clock))
    assert store.once.list() == []


def test_apply_lists_executables_in_name_order(tmp_path: Path) -> None:
    base = tmp_path / "migrations"
    base.mkdir()
    for name, mode in (("020-b.sh", 0o755), ("010-a.sh", 0o755), ("README", 0o644)):
        (base / name).write_text("#!/bin/sh\n")
        os.chmod(base / name, mode)
    (base / "030-dir").mkdir()
    assert [s.name for s in once.scripts_in(str(base))] == [
        "migrations/010-a.sh",
        "migrations/020-b.sh",
    ]
    with pytest.raises(NotFound, match="no such directory"):
        once.scripts_in(str(tmp_path / "missing"))
    with pytest.raises(InvalidInput, match="not a directory"):
        once.scripts_in(str(base / "README"))


def test_record_round_trip(store: Store, clock: ManualClock) -> None:
    run(store, clock, "h1")
    record = store.once.get("m1")
    assert isinstance(record, OnceRecord)
    assert (record.host, record.pid, record.pid_start, record.command) == (
        "host-a",
        4242,
        77,
        ["migrate"],
    )
