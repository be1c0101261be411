"""History retention in the daemon: the retention hook's pass, driven with a manual clock,
deletes expired jobs with their attempts, DLQ entries and log files, and nothing else."""

from __future__ import annotations

from pathlib import Path

from jobctl.client import Client
from jobctl.config.model import Config
from jobctl.config.model import DaemonConfig as _DaemonConfig
from jobctl.runtime.daemon import DaemonOptions
from jobctl.runtime.retention import RetentionHook
from jobctl.runtime.service import build_hooks
from jobctl.store import Store
from jobctl.store.database import Conn
from tests.support.clock import ManualClock

DAY = 86400.0


def _history(store: Store, client: Client, tmp_path: Path, clock: ManualClock) -> dict[str, int]:
    """Jobs finished at various ages (relative to the clock), each with a log file."""
    now = clock.now().timestamp()
    plan = {
        "old_ok": ("succeeded", 8 * DAY),
        "new_ok": ("succeeded", 1 * DAY),
        "old_dead": ("dead", 31 * DAY),
        "new_dead": ("dead", 29 * DAY),
        "old_cancelled": ("cancelled", 100 * DAY),  # no retention configured for it
        "queued": ("queued", None),
    }
    ids = {name: client.enqueue(["true"], name=name) for name in plan}
    with store.db.write() as con:
        _backdate(con, plan, ids, tmp_path, now)
    return ids


def _backdate(
    con: Conn, plan: dict[str, tuple[str, float | None]], ids: dict[str, int], tmp_path: Path,
    now: float,
) -> None:  # fmt: skip
    for name, (state, age) in plan.items():
        job_id = ids[name]
        if age is None:
            continue
        log = tmp_path / "logs" / f"{job_id}.1.log"
        log.parent.mkdir(exist_ok=True)
        log.write_text("output\n")
        log.with_name(log.name + ".1").write_text("rotated\n")
        con.execute(
            "UPDATE jobs SET state = ?, finished_at = ?, attempts = 1 WHERE id = ?",
            (state, now - age, job_id),
        )
        con.execute(
            "INSERT INTO attempts (job_id, attempt, queue, started_at, finished_at, log_path)"
            " VALUES (?, 1, 'default', ?, ?, ?)",
            (job_id, now - age - 1, now - age, str(log)),
        )
        con.execute(  # its output, kept in the store (PostgreSQL's daemons keep it there)
            "INSERT INTO attempt_output (job_id, attempt, seq, data) VALUES (?, 1, 1, ?)",
            (job_id, b"output\n"),
        )
        if state == "dead":
            con.execute(
                "INSERT INTO dlq (job_id, queue, created_at) VALUES (?, 'default', ?)",
                (job_id, now - age),
            )


def _count(store: Store, sql: str) -> int:
    with store.db.read() as con:
        return con.execute(sql).fetchone()[0]


def test_a_retention_pass_deletes_expired_history_only(
    db_url: str, client: Client, store: Store, tmp_path: Path, clock: ManualClock
):
    # Given history of various ages and retention for succeeded (7d) and dead (30d)
    ids = _history(store, client, tmp_path, clock)
    config = Config(retention={"succeeded": 7 * DAY, "dead": 30 * DAY})
    hook = RetentionHook(db_url, config, clock)
    # When the hook's pass runs
    try:
        swept = hook.work()
    finally:
        hook.on_stop(clock.now())
    # Then exactly the old succeeded and old dead jobs are gone, with their traces
    assert sorted((s.state, s.deleted, s.skipped, s.files) for s in swept) == [
        ("dead", 1, 0, 2),
        ("succeeded", 1, 0, 2),
    ]
    left = {r for r in ids if _count(store, f"SELECT count(*) FROM jobs WHERE id = {ids[r]}")}
    assert left == {"new_ok", "new_dead", "old_cancelled", "queued"}
    assert _count(store, "SELECT count(*) FROM attempts") == 3
    kept_output = {r for r in ids if store.output.total_bytes(ids[r], 1)}
    assert kept_output == {"new_ok", "new_dead", "old_cancelled"}
    assert _count(store, f"SELECT count(*) FROM dlq WHERE job_id = {ids['old_dead']}") == 0
    assert _count(store, f"SELECT count(*) FROM dlq WHERE job_id = {ids['new_dead']}") == 1
    logs = sorted(p.name for p in (tmp_path / "logs").iterdir())
    assert logs == sorted(
        f"{ids[n]}.1.log{suffix}"
        for n in ("new_ok", "new_dead", "old_cancelled")
        for suffix in ("", ".1")
    )
    # and the sweeps are registered and audited as daemon-initiated
    sweeps = store.sweeps.list("retention")
    assert [(s.name, s.state) for s in sweeps] == [
        ("retention-dead", "done"),
        ("retention-succeeded", "done"),
    ]
    actions = [(e.action, e.args.get("initiated_by")) for e in store.audit.list()]
    assert actions.count(("sweep.mark", "daemon")) == 2
    assert actions.count(("sweep.run", "daemon")) == 2


def test_time_passing_expires_more_history(
    db_url: str, client: Client, store: Store, tmp_path: Path, clock: ManualClock
):
    ids = _history(store, client, tmp_path, clock)
    hook = RetentionHook(db_url, Config(retention={"succeeded": 7 * DAY}), clock)
    try:
        assert [s.deleted for s in hook.work()] == [1]
        assert hook.work() == []  # nothing new expired: no sweep at all
        clock.advance(6.5 * DAY)  # new_ok is now 7.5 days old
        assert [s.deleted for s in hook.work()] == [1]
    finally:
        hook.on_stop(clock.now())
    assert _count(store, f"SELECT count(*) FROM jobs WHERE id = {ids['new_ok']}") == 0
    assert len(store.sweeps.list("retention")) == 2


def test_the_registry_keeps_only_the_newest_finished_retention_sweeps(
    db_url: str, client: Client, store: Store, tmp_path: Path, clock: ManualClock
):
    from jobctl.ops import retention

    hook = RetentionHook(db_url, Config(retention={"succeeded": 1.0}), clock)
    try:
        for n in range(retention.KEEP_FINISHED + 3):
            job_id = client.enqueue(["true"], name=f"j{n}")
            with store.db.write() as con:
                con.execute("UPDATE jobs SET state = 'succeeded', finished_at = ? WHERE id = ?",
                            (clock.now().timestamp(), job_id))  # fmt: skip
            clock.advance(2)
            assert [s.deleted for s in hook.work()] == [1]
    finally:
        hook.on_stop(clock.now())
    assert len(store.sweeps.list("retention")) == retention.KEEP_FINISHED


def test_no_retention_configured_means_no_sweep(
    db_url: str, client: Client, store: Store, tmp_path: Path, clock: ManualClock
):
    _history(store, client, tmp_path, clock)
    hook = RetentionHook(db_url, Config(), clock)
    assert hook.work() == []
    assert store.sweeps.list() == []
    assert _count(store, "SELECT count(*) FROM jobs") == 6


def test_the_served_daemon_runs_the_retention_hook(db_path: Path) -> None:
    hooks = build_hooks(str(db_path), Config(daemon=_DaemonConfig()), DaemonOptions(node="n"))
    assert [h.name for h in hooks if isinstance(h, RetentionHook)] == ["retention"]
