"""Kafka lag samples: per partition, the samples since a start and a few before it (oldest
first), pruning by age."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jobctl.domain.lag import Sample
from jobctl.store import Store

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
OLD = T0 - timedelta(days=30)


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_window_is_every_sample_since_start_and_a_few_before(store: Store) -> None:
    for i in range(8):
        store.kafka.record_samples(
            "b:9092", "g", [("t", 0, i, 10 + i), ("t", 1, None, 3)], _at(i), OLD
        )
    store.kafka.record_samples("b:9092", "other", [("t", 0, 99, 99)], _at(9), OLD)
    store.kafka.record_samples("c:9092", "g", [("t", 0, 77, 77)], _at(9), OLD)
    windows = store.kafka.windows("b:9092", "g", _at(5), OLD, 2)
    assert set(windows) == {("t", 0), ("t", 1)}
    assert windows[("t", 0)] == [Sample(_at(i), i, 10 + i) for i in (3, 4, 5, 6, 7)]
    assert windows[("t", 1)] == [Sample(_at(i), None, 3) for i in (3, 4, 5, 6, 7)]
    assert len(store.kafka.windows("b:9092", "g", _at(5), OLD, 0)[("t", 0)]) == 3
    assert len(store.kafka.windows("b:9092", "g", _at(100), OLD, 3)[("t", 0)]) == 3


def test_since_bounds_the_window_and_writes_prune_old_samples(store: Store) -> None:
    store.kafka.record_samples("b", "g", [("t", 0, 1, 2)], _at(0), OLD)
    store.kafka.record_samples("b", "g", [("t", 0, 2, 3)], _at(100), OLD)
    window = store.kafka.windows("b", "g", _at(100), _at(50), 10)[("t", 0)]
    assert [s.committed for s in window] == [2]
    store.kafka.record_samples("b", "h", [("u", 3, 5, 5)], _at(200), _at(50))
    assert store.kafka.count() == 2
    assert store.kafka.windows("b", "g", _at(100), OLD, 10)[("t", 0)] == [Sample(_at(100), 2, 3)]
