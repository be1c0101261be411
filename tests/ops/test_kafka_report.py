"""kafka-lag without a broker: the request from flags over config, and the evaluation of
snapshots over sample windows kept in a real SQLite store."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from jobctl.config.kafka import KafkaConfig, KafkaQueue
from jobctl.domain.lag import Thresholds
from jobctl.errors import InvalidInput
from jobctl.ops.kafka_report import (
    SAMPLE_RETENTION,
    GroupSnapshot,
    KafkaSecurity,
    LagRequest,
    PartitionLag,
    build_request,
    evaluate,
)
from jobctl.store import Store
from tests.support.clock import ManualClock

CONFIG = KafkaConfig(
    bootstrap_servers="k1:9092",
    security_protocol="SASL_SSL",
    sasl_username="cfg-user",
    queues=(KafkaQueue("sched", "sched-workers", "jobs", warn_lag=5, max_lag_seconds=60.0),),
)


def test_queue_resolves_group_topic_and_thresholds_and_flags_win() -> None:
    request = build_request(CONFIG, queue="sched")
    assert (request.bootstrap_servers, request.groups, request.topic) == (
        "k1:9092",
        ("sched-workers",),
        "jobs",
    )
    assert request.thresholds == Thresholds(warn_lag=5, max_lag_seconds=60.0)
    assert request.security == KafkaSecurity("SASL_SSL", None, "cfg-user", None)
    over = build_request(
        CONFIG,
        queue="sched",
        bootstrap_servers="other:9092",
        topic="t2",
        thresholds=Thresholds(warn_lag=50, max_lag=100),
        security=KafkaSecurity(username="me"),
        env_password="pw-from-env",
    )
    assert (over.bootstrap_servers, over.topic) == ("other:9092", "t2")
    assert over.thresholds == Thresholds(warn_lag=50, max_lag=100, max_lag_seconds=60.0)
    assert over.security.username == "me" and over.security.password == "pw-from-env"
    assert "pw-from-env" not in repr(over)


def test_password_file_wins_over_env(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("from-file\n")
    request = build_request(CONFIG, password_file=str(secret), env_password="from-env")
    assert request.security.password == "from-file"
    with pytest.raises(InvalidInput, match="cannot read the SASL password file"):
        build_request(CONFIG, password_file=str(tmp_path / "missing"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"queue": "nope"}, "unknown kafka queue 'nope' (kafka.queues: sched)"),
        ({"window": 0.0}, "invalid --window 0s: must be over 0"),
        ({"window": 86401.0}, "invalid --window 86401s: must be over 0 and at most 24h"),
        ({"timeout": 0.0}, "invalid --timeout 0"),
    ],
)
def test_invalid_requests(kwargs: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_request(CONFIG, **kwargs)


def test_bootstrap_servers_are_required() -> None:
    with pytest.raises(InvalidInput, match="no bootstrap servers"):
        build_request(KafkaConfig(), groups=("g",))
    assert LagRequest(" b:1 , a:2").cluster == "a:2,b:1"


def _snapshot(committed: int | None, end: int, members: bool | None = None) -> GroupSnapshot:
    age = None if committed is None else (0.0 if end <= committed else 3.0)
    return GroupSnapshot("g", (PartitionLag("t", 0, committed, end, age),), members)


def test_windows_come_from_the_store_and_trend_needs_the_window_spanned(
    store: Store, clock: ManualClock
) -> None:
    request = LagRequest("k:1", groups=("g",), window=60)
    statuses = []
    for committed, end in ((0, 5), (2, 9), (4, 14)):
        report = evaluate([_snapshot(committed, end, True)], request, clock.now(), store)
        statuses.append(report.shape()["groups"][0]["status"])
        clock.advance(30)
    assert statuses == ["OK", "OK", "WARNING"]
    assert "lag growing on t/0: 5 -> 10 over 3 samples in 1m00s" in report.groups[0].verdict.reason
    assert report.exit_code == 1


def test_stalled_with_members_stopped_without(store: Store, clock: ManualClock) -> None:
    request = LagRequest("k:1", groups=("g",), window=20)
    for end in (5, 6, 7):
        live = evaluate([_snapshot(2, end, True)], request, clock.now(), store)
        clock.advance(10)
    assert live.groups[0].verdict.status.value == "CRITICAL"
    gone = evaluate([_snapshot(2, 8, False)], request, clock.now(), store)
    assert gone.groups[0].verdict.status.value == "STOPPED"
    assert gone.report.probes[0].status.name == "CRITICAL" and gone.exit_code == 2


def test_old_samples_are_pruned_and_not_judged(store: Store, clock: ManualClock) -> None:
    request = LagRequest("k:1", groups=("g",))
    for _ in range(3):
        evaluate([_snapshot(2, 9, True)], request, clock.now(), store)
        clock.advance(1)
    clock.advance(SAMPLE_RETENTION.total_seconds() + 1)
    report = evaluate([_snapshot(2, 9, True)], request, clock.now(), store)
    assert report.groups[0].verdict.status.value == "OK"
    assert store.kafka.count() == 1


def test_a_lag_whose_oldest_message_was_not_read_says_so() -> None:
    unread = PartitionLag("t", 1, 2, 5, None)  # lag 3, record not read within the timeout
    caught_up = PartitionLag("t", 0, 5, 5, 0.0)
    snapshot = GroupSnapshot("g", (caught_up, unread), True)
    report = evaluate([snapshot], LagRequest("k:1", groups=("g",), timeout=2.5), datetime.now(UTC))
    [group] = report.shape()["groups"]
    assert [p["lag_seconds"] for p in group["partitions"]] == [0.0, None]
    assert group["reason"].endswith(
        "; oldest unconsumed message not read within 2.5s on t/1 (lag_seconds unknown)"
    )
    assert report.report.probes[0].message == group["reason"]


def test_shape_without_store_and_unknown_named_group() -> None:
    request = LagRequest("k:1", groups=("g", "ghost"))
    snapshots = [_snapshot(None, 4), GroupSnapshot("ghost", ())]
    report = evaluate(snapshots, request, ManualClock().now())
    doc = report.shape()
    assert doc["status"] == "UNKNOWN"
    assert doc["groups"] == [
        {
            "group": "g",
            "status": "OK",
            "reason": "no committed offsets",
            "total_lag": None,
            "topics": [{"topic": "t", "total_lag": None, "partitions": 1}],
            "partitions": [
                {"topic": "t", "partition": 0, "committed": None, "end": 4, "lag": None,
                 "lag_seconds": None}
            ],
        }
    ]  # fmt: skip
    assert [p["name"] for p in doc["probes"]] == ["group:g", "group:ghost"]
    assert evaluate([], LagRequest("k:1"), ManualClock().now()).shape()["probes"][0] == {
        "name": "groups",
        "status": "OK",
        "value": 0,
        "message": "no consumer groups on this cluster",
    }
