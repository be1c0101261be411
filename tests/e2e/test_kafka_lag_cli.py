"""`jobctl kafka-lag` as a real subprocess against a real broker (Tansu): JSON shape, Nagios
exit codes, `--queue` from config, samples recorded by earlier runs, `--watch`, an
unreachable broker, the missing `kafka` extra, and the SASL password staying secret."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from jobctl.store import open_store
from tests.support.cli import TRACEBACK, Jobctl
from tests.support.kafka import Broker, broker, unique
from tests.support.waiting import wait_until

__all__ = ["broker"]  # the session fixture
pytestmark = pytest.mark.slow

GROUP_KEYS = {"group", "status", "reason", "total_lag", "partitions"}
PARTITION_KEYS = {"topic", "partition", "committed", "end", "lag", "lag_seconds"}


def _setup(b: Broker, partitions: int = 2) -> tuple[str, str]:
    topic, group = b.create_topic(unique("t"), partitions), unique("g")
    b.produce(topic, 0, 4)
    b.commit(group, {(topic, 0): 1})
    return topic, group


def test_json_shape_and_exit_codes(jc: Jobctl, broker: Broker) -> None:
    topic, group = _setup(broker)
    args = ["kafka-lag", "--bootstrap-servers", broker.bootstrap, "--group", group]
    res = jc.run(*args, "-o", "json")
    assert res.rc == 0, res.err
    doc = json.loads(res.out)
    assert set(doc) >= {"status", "probes", "groups"} and doc["status"] == "OK"
    assert set(doc["probes"][0]) >= {"name", "status", "value", "message"}
    [entry] = doc["groups"]
    assert set(entry) >= GROUP_KEYS and entry["group"] == group and entry["total_lag"] == 3
    assert all(set(p) >= PARTITION_KEYS for p in entry["partitions"])
    assert [(p["partition"], p["committed"], p["lag"]) for p in entry["partitions"]] == [
        (0, 1, 3),
        (1, None, None),
    ]
    assert jc.run(*args, "--warn-lag", "2").rc == 1
    crit = jc.run(*args, "--warn-lag", "1", "--max-lag", "2")
    assert crit.rc == 2
    assert "total lag 3 > max-lag 2" in crit.out  # the table's group title names why
    assert f"{topic}  0" in crit.out and "KAFKA-LAG CRITICAL" in crit.out


def test_two_groups_lagging_on_one_topic_each_get_lag_seconds(jc: Jobctl, broker: Broker) -> None:
    """Issue 13.22: `--group g1 --group g2`, g1 at offsets 4 and 3 and g2 at 2 on t1's
    partitions 1 and 2, gave g1 `lag_seconds: null` there while `--group g1` alone gave
    ~10 s: every (group, partition) with lag reads its own oldest unconsumed record."""
    t1, g1, g2 = broker.create_topic(unique("t1"), 3), unique("g1"), unique("g2")
    ten_seconds_ago = int(time.time() * 1000) - 10_000
    for partition in (1, 2):
        broker.produce(t1, partition, 6, timestamp_ms=ten_seconds_ago)
    broker.commit(g1, {(t1, 1): 4, (t1, 2): 3})
    broker.commit(g2, {(t1, 1): 2, (t1, 2): 2})
    args = ["kafka-lag", "--bootstrap-servers", broker.bootstrap, "-o", "json"]

    def ages(*groups: str) -> dict[tuple[str, int], float | None]:
        res = jc.run(*args, *(a for g in groups for a in ("--group", g)))
        assert res.rc == 0, res.err
        return {
            (entry["group"], p["partition"]): p["lag_seconds"]
            for entry in json.loads(res.out)["groups"]
            for p in entry["partitions"]
            if p["lag"]
        }

    both = ages(g1, g2)
    assert set(both) == {(g1, 1), (g1, 2), (g2, 1), (g2, 2)}
    assert all(age is not None and 10 <= age < 600 for age in both.values()), both
    alone = ages(g1)
    assert set(alone) == {(g1, 1), (g1, 2)}
    assert all(age is not None and 10 <= age < 600 for age in alone.values()), alone


def test_queue_resolves_servers_group_topic_and_thresholds_from_config(
    jc: Jobctl, broker: Broker, tmp_path: Path
) -> None:
    topic, group = _setup(broker)
    other = broker.create_topic(unique("other"), 1)
    broker.produce(other, 0, 9)
    broker.commit(group, {(other, 0): 0})
    config = tmp_path / "config.yaml"
    config.write_text(
        f"kafka:\n  bootstrap_servers: {broker.bootstrap}\n  queues:\n"
        f"    scheduler: {{group: {group}, topic: {topic}, warn_lag: 2}}\n"
    )
    jc.env["JOBCTL_CONFIG"] = str(config)
    res = jc.run("kafka-lag", "--queue", "scheduler", "-o", "json")
    assert res.rc == 1, res.err
    [entry] = json.loads(res.out)["groups"]
    assert entry["group"] == group and entry["status"] == "WARNING"
    assert {p["topic"] for p in entry["partitions"]} == {topic}  # the queue's topic only
    assert jc.run("kafka-lag", "--queue", "scheduler", "--warn-lag", "5").rc == 0
    bad = jc.run("kafka-lag", "--queue", "nope")
    assert bad.rc == 2 and "unknown kafka queue 'nope' (kafka.queues: scheduler)" in bad.err


def test_samples_from_earlier_runs_show_a_growing_lag(jc: Jobctl, broker: Broker) -> None:
    topic, group = broker.create_topic(unique("t"), 1), unique("g")
    broker.produce(topic, 0, 2)
    args = ["kafka-lag", "--bootstrap-servers", broker.bootstrap, "--group", group, "-o", "json",
            "--window", "1ms"]  # fmt: skip
    codes = []
    for committed in (0, 1, 2):
        broker.commit(group, {(topic, 0): committed})
        codes.append(jc.run(*args).rc)
        broker.produce(topic, 0, 3)
    assert codes == [0, 0, 1]
    res = jc.run(*args)
    [entry] = json.loads(res.out)["groups"]
    assert res.rc == 1 and "lag growing" in entry["reason"]


def test_a_quick_burst_of_samples_is_judged_on_the_thresholds(jc: Jobctl, broker: Broker) -> None:
    """Issue 13.22: a single `kafka-lag` call (no --watch) judged a group STOPPED from a
    window of 4 samples taken within a second, although its lag was under --warn-lag /
    --max-lag. Burrow's rules wait for samples spanning --window (default 10m)."""
    _topic, group = _setup(broker, partitions=1)  # committed 1 of 4, no member, no commit
    args = ["kafka-lag", "--bootstrap-servers", broker.bootstrap, "--group", group,
            "--warn-lag", "5", "--max-lag", "10", "-o", "json"]  # fmt: skip
    for _ in range(3):  # earlier calls record their samples
        assert jc.run(*args).rc == 0
    res = jc.run(*args)
    assert res.rc == 0, res.out
    [entry] = json.loads(res.out)["groups"]
    assert entry["status"] == "OK"
    assert entry["reason"].startswith("total lag 3, oldest unconsumed message")
    assert "(no trend yet: needs 3+ samples spanning 10m00s, have 4 samples in" in entry["reason"]
    assert entry["reason"].endswith("; thresholds only)")
    # the same samples judged over a window they do span: Burrow's STOPPED
    spanned = jc.run(*args, "--window", "1ms")
    assert spanned.rc == 2
    assert json.loads(spanned.out)["groups"][0]["status"] == "STOPPED"
    bad = jc.run(*args, "--window", "0")
    assert bad.rc == 2 and "invalid --window 0s: must be over 0" in bad.err


def _reports(path: Path) -> list[dict]:  # type: ignore[type-arg]
    """The complete JSON lines written so far (a line still being written is left out)."""
    lines = path.read_text().split("\n")[:-1]
    return [json.loads(line) for line in lines]


def test_watch_prints_a_report_per_sample_and_exits_with_the_last_status(
    jc: Jobctl, broker: Broker
) -> None:
    """--watch: a report per sample, OK (thresholds only) until the samples span --window,
    then Burrow's STOPPED; Ctrl-C exits with the last status. Output goes to files polled
    with a deadline (no pipe to block on), and the process is always reaped (issue 13.23)."""
    _topic, group = _setup(broker, partitions=1)  # committed 1 of 4, no member: stopped
    out, err = jc.tmp / "watch.out", jc.tmp / "watch.err"
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        proc = subprocess.Popen(
            [*jc.argv0, "kafka-lag", "--bootstrap-servers", broker.bootstrap, "--group", group,
             "--watch", "200ms", "--window", "1s", "-o", "json"],
            env=jc.env, stdout=stdout, stderr=stderr, cwd=jc.tmp,
        )  # fmt: skip

    def until_stopped() -> list[str] | None:
        assert proc.poll() is None, err.read_text()  # it only ends on Ctrl-C
        statuses = [doc["groups"][0]["status"] for doc in _reports(out)]
        return statuses if statuses[-1:] == ["STOPPED"] else None

    try:
        statuses = wait_until(until_stopped, 60, 0.05, "a STOPPED watch report")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 2, err.read_text()  # STOPPED reports at CRITICAL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    assert TRACEBACK not in err.read_text()
    assert statuses[:-1] == ["OK"] * (len(statuses) - 1) and len(statuses) >= 3, statuses
    first, stopped = _reports(out)[0], _reports(out)[len(statuses) - 1]
    assert "no trend yet" in first["groups"][0]["reason"]
    assert "no active members" in stopped["groups"][0]["reason"]


def test_unreachable_broker_exits_3_with_one_line(jc: Jobctl) -> None:
    res = jc.run("kafka-lag", "--bootstrap-servers", "127.0.0.1:9", "--timeout", "1s", timeout=20)
    assert res.rc == 3
    assert res.err.strip().splitlines() == [
        "jobctl: kafka-lag: UNKNOWN: cannot reach Kafka at 127.0.0.1:9 within 1s"
        " (Failed to get metadata: Local: Broker transport failure)"
    ]
    assert res.out == ""
    doc = json.loads(jc.run("kafka-lag", "--bootstrap-servers", "127.0.0.1:9", "--timeout",
                            "1s", "-o", "json").out)  # fmt: skip
    assert doc["status"] == "UNKNOWN" and doc["groups"] == []


def test_missing_extra_says_how_to_install_it(jc: Jobctl) -> None:
    # sys.modules[name] = None makes every import of it fail: an install without the extra
    script = (
        "import sys; sys.modules['confluent_kafka'] = None; from jobctl.cli import main; main()"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, "kafka-lag", "--bootstrap-servers", "127.0.0.1:9"],
        env=jc.env, capture_output=True, text=True, timeout=30, cwd=jc.tmp,
    )  # fmt: skip
    assert proc.returncode == 3
    assert proc.stderr.strip().splitlines() == [
        "jobctl: kafka-lag needs confluent-kafka (jobctl's kafka extra): pip install"
        " 'confluent-kafka>=2.3' into jobctl's environment, or install jobctl from its checkout"
        " with pip install '.[kafka]'"
    ]  # not `pip install jobctl`: that name on PyPI is an unrelated project


def test_other_commands_do_not_import_confluent_kafka(jc: Jobctl) -> None:
    script = (
        "import sys; from jobctl.cli import main\n"
        "try: main()\n"
        "except SystemExit: print('confluent_kafka' in sys.modules)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, "status"],
        env=jc.env, capture_output=True, text=True, timeout=30, cwd=jc.tmp,
    )  # fmt: skip
    assert proc.stdout.strip().splitlines()[-1] == "False", proc.stderr


def test_sasl_password_stays_secret(jc: Jobctl, broker: Broker, tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret-pw\n")
    base = ["kafka-lag", "--bootstrap-servers", broker.bootstrap, "--timeout", "1s",
            "--security-protocol", "SASL_PLAINTEXT", "--sasl-mechanism", "PLAIN",
            "--sasl-username", "jobctl"]  # fmt: skip
    res = jc.run("-v", *base, "--sasl-password-file", str(secret), "-o", "json")
    assert res.rc == 3  # the broker speaks no SASL: unreachable, but nothing leaks
    assert "s3cret-pw" not in res.out + res.err
    jc.env["JOBCTL_KAFKA_PASSWORD"] = "env-s3cret"
    res = jc.run(*base)
    assert res.rc == 3 and "env-s3cret" not in res.out + res.err
    assert jc.run(*base, "--sasl-password", "x").rc == 2  # no such option, by design
    missing = jc.run(*base, "--sasl-password-file", str(tmp_path / "none"))
    assert missing.rc == 2 and "cannot read the SASL password file" in missing.err


def test_daemon_records_samples_of_configured_queues(
    jc: Jobctl, broker: Broker, tmp_path: Path
) -> None:
    _topic, group = _setup(broker, partitions=1)  # committed 1 of 4, nobody consuming
    config = tmp_path / "config.yaml"
    config.write_text(
        f"kafka:\n  bootstrap_servers: {broker.bootstrap}\n  sample_interval: 200ms\n"
        f"  queues:\n    orders: {{group: {group}}}\n"
    )
    jc.env["JOBCTL_CONFIG"] = str(config)
    jc.start_daemon()
    store = open_store(str(jc.db))
    long_ago = datetime(2000, 1, 1, tzinfo=UTC)

    def span() -> float:
        windows = list(store.kafka.windows(broker.bootstrap, group, long_ago, long_ago, 0).values())
        if not windows:  # the daemon has not sampled yet (a slow start)
            return 0.0
        [window] = windows
        return (window[-1].at - window[0].at).total_seconds() if len(window) >= 3 else 0.0

    try:
        wait_until(lambda: span() >= 1, 30, 0.1, "daemon samples spanning 1s")
    finally:
        store.close()
    res = jc.run("kafka-lag", "--queue", "orders", "--window", "1s", "-o", "json")
    [entry] = json.loads(res.out)["groups"]  # judged at once on the daemon's samples
    assert (res.rc, entry["status"]) == (2, "STOPPED"), entry
    default = jc.run("kafka-lag", "--queue", "orders", "-o", "json")  # --window 10m
    assert default.rc == 0 and "no trend yet" in json.loads(default.out)["groups"][0]["reason"]
    jc.stop_daemons()
    assert "kafka.lag" in jc.daemon_log(0)


def test_invalid_client_settings_are_usage_errors(jc: Jobctl) -> None:
    base = ["kafka-lag", "--bootstrap-servers", "127.0.0.1:9"]
    res = jc.run(*base, "--security-protocol", "FOO")
    assert res.rc == 2 and "invalid --security-protocol 'FOO'" in res.err
    res = jc.run(*base, "--security-protocol", "sasl_plaintext", "--sasl-mechanism", "FOO")
    assert res.rc == 2
    assert res.err.strip().splitlines() == [
        "jobctl: error: invalid Kafka client setting: Failed to create admin client:"
        " Unsupported SASL mechanism: FOO"
    ]
