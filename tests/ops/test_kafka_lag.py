"""kafka-lag against a real broker (Tansu, tests/support/kafka.py): offsets, lag in messages
and seconds, uncommitted partitions, thresholds, and the Burrow-style trend over samples
recorded in a real SQLite store."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from jobctl.clock import SystemClock
from jobctl.domain.lag import Thresholds
from jobctl.ops.kafka_lag import check_lag
from jobctl.ops.kafka_report import LagReport, LagRequest
from jobctl.store import Store
from tests.support.kafka import Broker, broker, unique

__all__ = ["broker"]  # the session fixture

CLOCK = SystemClock()


def _check(b: Broker, store: Store | None = None, **kw: object) -> LagReport:
    return check_lag(LagRequest(b.bootstrap, **kw), CLOCK, store)  # type: ignore[arg-type]


def _group(report: LagReport, name: str) -> dict:  # type: ignore[type-arg]
    return next(g for g in report.shape()["groups"] if g["group"] == name)


@pytest.fixture
def topics(broker: Broker) -> Iterator[tuple[str, str]]:
    a, b = broker.create_topic(unique("a"), 3), broker.create_topic(unique("b"), 2)
    for partition, count in ((0, 5), (1, 1), (2, 2)):
        broker.produce(a, partition, count)
    broker.produce(b, 0, 3)
    yield a, b


def test_several_groups_and_topics_with_an_uncommitted_partition(
    broker: Broker, topics: tuple[str, str]
) -> None:
    a, b = topics
    g1, g2 = unique("g1"), unique("g2")
    broker.commit(g1, {(a, 0): 2, (a, 1): 1, (b, 0): 0})
    broker.commit(g2, {(b, 1): 0})
    report = _check(broker)
    assert report.report.status.name == "OK"
    names = [g["group"] for g in report.shape()["groups"]]
    assert g1 in names and g2 in names

    first = _group(report, g1)
    rows = {(p["topic"], p["partition"]): p for p in first["partitions"]}
    assert set(rows) == {(a, 0), (a, 1), (a, 2), (b, 0), (b, 1)}
    assert rows[(a, 0)] | {"lag_seconds": None} == {
        "topic": a, "partition": 0, "committed": 2, "end": 5, "lag": 3, "lag_seconds": None
    }  # fmt: skip
    assert rows[(a, 0)]["lag_seconds"] >= 0
    assert (rows[(a, 1)]["lag"], rows[(a, 1)]["lag_seconds"]) == (0, 0)
    for uncommitted in ((a, 2), (b, 1)):  # shown as such, not as lag 0
        assert rows[uncommitted]["committed"] is None
        assert rows[uncommitted]["lag"] is None and rows[uncommitted]["lag_seconds"] is None
    assert rows[(a, 2)]["end"] == 2
    assert rows[(b, 0)]["lag"] == 3
    assert first["total_lag"] == 6
    assert {t["topic"]: t["total_lag"] for t in first["topics"]} == {a: 3, b: 3}

    second = _group(report, g2)
    assert [(p["partition"], p["committed"], p["lag"]) for p in second["partitions"]] == [
        (0, None, None),
        (1, 0, 0),
    ]
    assert second["total_lag"] == 0


def test_topic_filter_and_named_groups(broker: Broker, topics: tuple[str, str]) -> None:
    a, b = topics
    group = unique("g")
    broker.commit(group, {(a, 0): 1, (b, 0): 1})
    report = _check(broker, groups=(group,), topic=b)
    [only] = report.shape()["groups"]
    assert [(p["topic"], p["partition"], p["lag"]) for p in only["partitions"]] == [
        (b, 0, 2),
        (b, 1, None),
    ]
    missing = _check(broker, groups=(unique("nobody"),))
    assert missing.report.status.name == "UNKNOWN"
    assert "no committed offsets" in missing.report.probes[0].message


def test_thresholds_on_total_lag_are_strictly_over(broker: Broker, topics: tuple[str, str]) -> None:
    a, _b = topics
    group = unique("g")
    broker.commit(group, {(a, 0): 0, (a, 2): 0})  # lag 5 + 2
    at = {
        Thresholds(warn_lag=7): "OK",
        Thresholds(warn_lag=6): "WARNING",
        Thresholds(warn_lag=1, max_lag=6): "CRITICAL",
    }
    for thresholds, status in at.items():
        report = _check(broker, groups=(group,), thresholds=thresholds)
        assert report.report.status.name == status, report.shape()
        assert report.exit_code == {"OK": 0, "WARNING": 1, "CRITICAL": 2}[status]


def test_lag_seconds_is_the_age_of_the_oldest_unconsumed_message(broker: Broker) -> None:
    topic, group = broker.create_topic(unique("t"), 1), unique("g")
    old = int(time.time() * 1000) - 120_000  # two minutes ago
    broker.produce(topic, 0, 1)
    broker.produce(topic, 0, 2, timestamp_ms=old)
    broker.commit(group, {(topic, 0): 1})
    report = _check(broker, groups=(group,), thresholds=Thresholds(max_lag_seconds=100))
    [row] = _group(report, group)["partitions"]
    assert row["lag"] == 2
    assert 119 <= row["lag_seconds"] < 600
    assert report.report.status.name == "CRITICAL"
    assert "max-lag-seconds 100s" in _group(report, group)["reason"]
    warned = _check(broker, groups=(group,), thresholds=Thresholds(warn_lag_seconds=100))
    assert warned.report.status.name == "WARNING"


def test_each_group_reads_its_own_oldest_message_on_shared_partitions(broker: Broker) -> None:
    """Two groups at different offsets of the same partitions: each (group, partition) gets
    the age of the record at its own committed offset (issue 13.22: the second group's
    read found the partitions still paused by the first and reported null)."""
    topic, g1, g2 = broker.create_topic(unique("t1"), 3), unique("g1"), unique("g2")
    base = int(time.time() * 1000) - 100_000
    for partition in (1, 2):
        for offset in range(6):  # the record at offset k is stamped base + k seconds
            broker.produce(topic, partition, 1, timestamp_ms=base + offset * 1000)
    broker.commit(g1, {(topic, 1): 4, (topic, 2): 3})
    broker.commit(g2, {(topic, 1): 2, (topic, 2): 2})
    report = _check(broker, groups=(g1, g2))
    ages = {
        (g, p["partition"]): p["lag_seconds"]
        for g in (g1, g2)
        for p in _group(report, g)["partitions"]
        if p["lag"]
    }
    assert set(ages) == {(g1, 1), (g1, 2), (g2, 1), (g2, 2)}
    assert all(age is not None and age >= 94 for age in ages.values()), ages
    # one "now" per call: the ages differ exactly by the offsets' stamps
    assert ages[(g2, 1)] - ages[(g1, 1)] == pytest.approx(2, abs=0.01)
    assert ages[(g2, 2)] - ages[(g1, 2)] == pytest.approx(1, abs=0.01)
    assert "not read within" not in _group(report, g1)["reason"]


def test_growing_lag_while_commits_advance_is_warning(broker: Broker, store: Store) -> None:
    topic, group = broker.create_topic(unique("t"), 1), unique("g")
    broker.produce(topic, 0, 2)
    reports = []
    for committed in (0, 1, 2):
        broker.commit(group, {(topic, 0): committed})
        reports.append(_check(broker, store, groups=(group,), window=0.001))
        broker.produce(topic, 0, 3)  # more arrives than is consumed
    assert [r.report.status.name for r in reports] == ["OK", "OK", "WARNING"]
    reason = _group(reports[-1], group)["reason"]
    assert f"lag growing on {topic}/0: 2 -> 6" in reason
    assert (
        "no trend yet: needs 3+ samples spanning 1ms, have 2 samples in"
        in _group(reports[1], group)["reason"]
    )


def test_consumer_keeping_up_stays_ok(broker: Broker, store: Store) -> None:
    topic, group = broker.create_topic(unique("t"), 1), unique("g")
    for committed in (0, 3, 6):
        broker.produce(topic, 0, 3)
        broker.commit(group, {(topic, 0): committed})
        report = _check(broker, store, groups=(group,), window=0.001)
    assert report.report.status.name == "OK", report.shape()


def test_stalled_member_is_critical_and_no_member_is_stopped(broker: Broker, store: Store) -> None:
    topic = broker.create_topic(unique("t"), 1)
    stalled, stopped = unique("stalled"), unique("stopped")
    broker.produce(topic, 0, 4)
    broker.commit(stalled, {(topic, 0): 1})
    broker.commit(stopped, {(topic, 0): 1})
    member = broker.member(stalled, topic)  # joined, consuming nothing, never committing
    try:
        for _ in range(3):
            report = _check(broker, store, groups=(stalled, stopped), window=0.001)
            broker.produce(topic, 0, 1)
            member.poll(0)
    finally:
        member.close()
    assert report.report.status.name == "CRITICAL"
    first, second = _group(report, stalled), _group(report, stopped)
    assert first["status"] == "CRITICAL"
    assert f"stalled on {topic}/0: committed offset stuck at 1" in first["reason"]
    assert second["status"] == "STOPPED"
    assert "no active members" in second["reason"]
    assert {p.name: p.status.name for p in report.report.probes} == {
        f"group:{stalled}": "CRITICAL",
        f"group:{stopped}": "CRITICAL",
    }


def test_samples_are_kept_per_cluster_and_group(broker: Broker, store: Store) -> None:
    topic, group = broker.create_topic(unique("t"), 2), unique("g")
    broker.commit(group, {(topic, 0): 0})
    _check(broker, store, groups=(group,))
    long_ago = CLOCK.now().replace(year=2000)
    windows = store.kafka.windows(broker.bootstrap, group, long_ago, long_ago, 0)
    assert set(windows) == {(topic, 0), (topic, 1)}
    assert [s.committed for s in windows[(topic, 1)]] == [None]


def test_unreachable_broker_is_unknown() -> None:
    report = check_lag(LagRequest("127.0.0.1:9", timeout=1), CLOCK)
    assert report.report.status.name == "UNKNOWN" and report.exit_code == 3
    assert "cannot reach Kafka at 127.0.0.1:9 within 1s" in report.report.probes[0].message
    assert report.shape()["groups"] == []
