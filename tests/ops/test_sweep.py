"""Mark-then-sweep on SQLite and PostgreSQL targets, through ops.sweep with a real registry
store and a manual clock: mark/unmark/run, grace, drift, injection, resume, writers."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from jobctl.domain import sweep as sw
from jobctl.errors import InvalidInput, NotFound, Refused
from jobctl.ops import sweep as ops
from jobctl.ops.sweep_engine import RunOptions
from jobctl.store import Store
from jobctl.store.targets import Plan, PredicateTimeout, open_target
from tests.support.clock import ManualClock
from tests.support.targets import fill_t, make_target

FAST = RunOptions(batch=100, pause=0.0)


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    db = make_target(request.param, tmp_path)
    yield db
    db.close()


def _mark(store: Store, target: Any, where: str, clock: ManualClock, **kw: Any) -> sw.Sweep:
    request = ops.MarkRequest(target.url, kw.pop("table", "t"), where, **kw)
    return ops.mark(store, request, clock.now(), "tester", **({"chunk": 7} if kw else {}))


def _run(store: Store, sweep: sw.Sweep, clock: ManualClock, options: RunOptions = FAST) -> sw.Sweep:
    ops.check_run(store.sweeps.get(sweep.id), clock.now(), early=False)
    return ops.run(store, store.sweeps.get(sweep.id), options, clock, "runner")


def test_mark_records_keys_and_changes_no_user_row(store: Store, target: Any, clock: ManualClock):
    fill_t(target, 100)
    s = _mark(store, target, "v % 2 = 0", clock, name="evens", grace=3600)
    assert (s.state, s.marked, s.deleted, s.name, s.keys) == ("marked", 50, 0, "evens", ("id",))
    assert s.grace_until == clock.now() + timedelta(hours=1)
    assert target.scalar("SELECT count(*) FROM t") == 100
    assert [x.id for x in ops.list_sweeps(store)] == [s.id]


def test_a_sweep_without_a_name_is_named_sweep_id(store: Store, target: Any, clock: ManualClock):
    fill_t(target, 10)
    s = _mark(store, target, "v <= 3", clock)
    assert s.name == f"sweep-{s.id}"
    assert ops.find(store, s.name).id == s.id


def test_run_is_refused_during_the_grace_period_unless_early(
    store: Store, target: Any, clock: ManualClock
):
    fill_t(target, 20)
    s = _mark(store, target, "v > 10", clock, grace=60)
    with pytest.raises(Refused, match="grace period"):
        ops.check_run(s, clock.now(), early=False)
    ops.check_run(s, clock.now(), early=True)
    clock.advance(61)
    done = _run(store, s, clock)
    assert (done.state, done.deleted, done.skipped) == ("done", 10, 0)
    assert target.scalar("SELECT count(*) FROM t") == 10


def test_a_row_that_no_longer_matches_is_skipped_not_deleted(
    store: Store, target: Any, clock: ManualClock
):
    # Given the evens marked, then row 2 updated so that it is odd
    fill_t(target, 100)
    s = _mark(store, target, "v % 2 = 0", clock, grace=0)
    target.execute("UPDATE t SET v = 3 WHERE id = 2")
    target.execute("DELETE FROM t WHERE id = 4")  # gone before the run: skipped too
    # When the sweep runs
    done = _run(store, s, clock)
    # Then row 2 is kept, counted as skipped
    assert (done.deleted, done.skipped, done.state) == (48, 2, "done")
    assert target.scalar("SELECT count(*) FROM t WHERE id = 2") == 1
    assert target.scalar("SELECT count(*) FROM t") == 51


def test_rows_inserted_after_marking_are_not_swept(store: Store, target: Any, clock: ManualClock):
    fill_t(target, 10)
    s = _mark(store, target, "v > 5", clock, grace=0)
    target.execute("INSERT INTO t (id, v, tag) VALUES (?, ?, 'late')", [(11, 11), (12, 12)])
    assert _run(store, s, clock).deleted == 5
    assert target.scalar("SELECT count(*) FROM t WHERE tag = 'late'") == 2


def test_unmark_forgets_the_marks_and_keeps_every_row(
    store: Store, target: Any, clock: ManualClock
):
    fill_t(target, 30)
    s = _mark(store, target, "v < 20", clock, name="early", grace=0)
    gone = ops.unmark(store, s, clock.now())
    assert gone.state == "unmarked"
    with pytest.raises(Refused, match="unmarked"):
        ops.check_run(gone, clock.now(), early=True)
    assert target.scalar("SELECT count(*) FROM t") == 30
    # the name is free again
    assert _mark(store, target, "v < 5", clock, name="early", grace=0).name == "early"


def test_max_rows_stops_and_a_second_run_resumes_exactly(
    store: Store, target: Any, clock: ManualClock
):
    fill_t(target, 200)
    s = _mark(store, target, "v > 50", clock, grace=0)
    first = _run(store, s, clock, RunOptions(batch=30, pause=0.01, max_rows=70))
    assert (first.state, first.done, first.deleted) == ("running", 70, 70)
    assert target.scalar("SELECT count(*) FROM t") == 130
    second = _run(store, s, clock, RunOptions(batch=30, pause=0.0))
    assert (second.state, second.done, second.deleted, second.skipped) == ("done", 150, 150, 0)
    assert target.scalar("SELECT count(*) FROM t") == 50
    assert target.scalar("SELECT max(v) FROM t") == 50


def test_composite_primary_keys_are_marked_and_swept(store: Store, target: Any, clock: ManualClock):
    target.execute(
        "CREATE TABLE c (a TEXT NOT NULL, b INTEGER NOT NULL, v INTEGER, PRIMARY KEY (a, b))"
    )
    target.execute(
        "INSERT INTO c (a, b, v) VALUES (?, ?, ?)", [(f"k{i % 3}", i, i) for i in range(60)]
    )
    s = _mark(store, target, "a = 'k1' AND v >= 30", clock, table="c", grace=0, name="c1")
    assert (s.keys, s.marked) == (("a", "b"), 10)
    assert _run(store, s, clock).deleted == 10
    assert target.scalar("SELECT count(*) FROM c") == 50


def test_a_sqlite_table_without_primary_key_is_swept_by_rowid(
    store: Store, tmp_path: Path, clock: ManualClock
):
    db = make_target("sqlite", tmp_path)
    db.execute("CREATE TABLE logs (line TEXT)")
    db.execute("INSERT INTO logs (line) VALUES (?)", [(f"l{i}",) for i in range(40)])
    s = _mark(store, db, "line LIKE 'l1%'", clock, table="logs", grace=0)
    assert (s.keys, s.marked) == (("rowid",), 11)
    assert _run(store, s, clock).deleted == 11
    assert db.scalar("SELECT count(*) FROM logs") == 29


@pytest.mark.parametrize(
    "where",
    [
        "1=1; DROP TABLE t",
        "v = 1 -- and the rest",
        "v = 1 /* c */",
        "1=1) OR (1=1",
        "(v = 1",
        "v IN (DELETE FROM t RETURNING id)",
        "v = 1 UNION SELECT 1",
        "v = (SELECT 1 FROM nosuch)",
        "nosuchcolumn = 1",
        "",
        "v = ?",
        "'unterminated",
    ],
)
def test_bad_predicates_are_refused_before_anything_is_written(
    store: Store, target: Any, clock: ManualClock, where: str
):
    fill_t(target, 5)
    with pytest.raises(InvalidInput, match="--where"):
        _mark(store, target, where, clock)
    assert ops.list_sweeps(store) == []
    assert target.scalar("SELECT count(*) FROM t") == 5


@pytest.mark.parametrize(
    "table", ["t; DROP TABLE t", 't" WHERE 1=1 --', "nosuch", "t t", "_jobctl_sweeps"]
)
def test_bad_tables_are_refused_naming_them(
    store: Store, target: Any, clock: ManualClock, table: str
):
    fill_t(target, 5)
    with pytest.raises(InvalidInput, match="--table") as info:
        _mark(store, target, "v > 0", clock, table=table)
    assert repr(table) in str(info.value)
    assert ops.list_sweeps(store) == []
    assert target.scalar("SELECT count(*) FROM t") == 5


def test_a_writer_keeps_writing_during_a_sweep(store: Store, target: Any, clock: ManualClock):
    # Given 2000 marked rows and a writer inserting rows (that also match) in a loop
    fill_t(target, 2000)
    s = _mark(store, target, "v % 2 = 0", clock, grace=0)
    stop, errors, written = threading.Event(), [], [0]

    def writer() -> None:
        con = target.connect()
        marker = "%s" if target.kind == "postgres" else "?"
        try:
            n = 100_000
            while not stop.is_set():
                n += 2
                con.execute(f"INSERT INTO t (id, v, tag) VALUES ({marker}, {marker}, 'w')", (n, n))
                written[0] += 1
                time.sleep(0.002)
        except Exception as exc:
            errors.append(exc)
        finally:
            con.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        done = ops.run(store, s, RunOptions(batch=50, pause=0.001), clock, "runner")
    finally:
        stop.set()
        thread.join()
    # Then the writer never failed, and only the marked rows went
    assert errors == []
    assert written[0] > 0
    assert done.deleted == 1000
    assert target.scalar("SELECT count(*) FROM t WHERE tag = 'w'") == written[0]
    assert target.scalar("SELECT count(*) FROM t WHERE tag = 'x'") == 1000


def test_an_interrupted_marking_cannot_run_and_unmark_cleans_it_up(
    store: Store, target: Any, clock: ManualClock
):
    # Given a sweep whose marking stopped half way (its process was killed)
    from jobctl.store.repos.sweeps import NewSweep
    from jobctl.store.targets import Plan, open_target

    fill_t(target, 10)
    handle = open_target(target.url)
    ref = handle.resolve_table("t")
    new = NewSweep(None, "user", target.url, "t", ref.schema, ref.keys, "v > 0", "tok0", "me",
                   clock.now())  # fmt: skip
    s = store.sweeps.create(new, clock.now())
    plan = Plan("tok0", ref, "v > 0")
    handle.begin_marks(plan)
    handle.append_marks(plan, 1, [(1,), (2,)])
    # Then it cannot run, and unmark forgets its partial marks
    with pytest.raises(Refused, match="not fully marked"):
        ops.check_run(s, clock.now(), early=True)
    assert ops.unmark(store, s, clock.now()).state == "unmarked"
    assert handle.progress(plan) is None
    handle.close()
    assert target.scalar("SELECT count(*) FROM t") == 10


ENDLESS = (
    "v IN (WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r)"
    " SELECT n FROM r WHERE n < 0)"
)


def test_a_predicate_past_the_statement_timeout_fails_and_leaves_nothing(
    store: Store, target: Any, clock: ManualClock
) -> None:
    # Given a predicate that never finishes (a recursive CTE without an end)
    fill_t(target, 50)
    request = ops.MarkRequest(target.url, "t", ENDLESS, grace=0, timeout=0.3)
    # When it is marked or previewed, the statement is cut at the timeout
    for attempt in (
        lambda: ops.mark(store, request, clock.now(), "tester"),
        lambda: ops.preview(request),
    ):
        with pytest.raises(PredicateTimeout, match=r"0\.3s statement timeout") as caught:
            attempt()
        assert caught.value.exit_code == 1 and "WITH RECURSIVE" in str(caught.value)
    # Then no sweep is registered, no mark is left in the target and every row is there
    assert store.sweeps.list() == []
    assert target.scalar("SELECT count(*) FROM _jobctl_sweeps") == 0
    assert target.scalar("SELECT count(*) FROM t") == 50


def test_a_run_batch_past_the_statement_timeout_rolls_back_and_can_resume(
    store: Store, target: Any, clock: ManualClock
) -> None:
    fill_t(target, 20)
    sweep = _mark(store, target, "v > 10", clock)
    opened = open_target(target.url, statement_timeout=0.3)
    try:
        ref = opened.resolve_table("t")
        endless = Plan(sweep.token, ref, f"v > 10 AND {ENDLESS.replace('v IN', 'v NOT IN')}")
        with pytest.raises(PredicateTimeout):
            opened.sweep_batch(endless, 100)
        assert opened.progress(endless).done == 0, "the batch rolled back"
        assert target.scalar("SELECT count(*) FROM t") == 20
        assert opened.sweep_batch(Plan(sweep.token, ref, "v > 10"), 100).deleted == 10
    finally:
        opened.close()


def test_a_sweep_reference_in_non_ascii_digits_is_a_name_not_an_id(store: Store) -> None:
    with pytest.raises(NotFound, match="²"):
        ops.find(store, "²")  # str.isdigit('²') is true, int('²') a ValueError


def test_a_missing_sqlite_target_is_refused(store: Store, tmp_path: Path, clock: ManualClock):
    request = ops.MarkRequest(str(tmp_path / "nope.db"), "t", "1=1")
    with pytest.raises(InvalidInput, match="does not exist"):
        ops.mark(store, request, clock.now(), "me")
    assert not (tmp_path / "nope.db").exists()


def test_a_postgres_table_without_primary_key_is_refused(
    store: Store, tmp_path: Path, clock: ManualClock
):
    db = make_target("postgres", tmp_path)
    try:
        db.execute("CREATE TABLE bare (v integer)")
        with pytest.raises(InvalidInput, match="no primary key"):
            _mark(store, db, "v > 0", clock, table="bare")
    finally:
        db.close()


def test_dry_run_counts_and_samples_without_writing(store: Store, target: Any, clock: ManualClock):
    fill_t(target, 50)
    p = ops.preview(ops.MarkRequest(target.url, "t", "v > 45"), sample=2)
    assert (p.count, [r["id"] for r in p.sample]) == (5, [46, 47])
    assert ops.list_sweeps(store) == []
    with pytest.raises(Exception, match="_jobctl_sweeps"):  # no side table was created
        target.scalar("SELECT count(*) FROM _jobctl_sweeps")
