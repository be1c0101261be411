"""`jobctl kafka-lag` as a real subprocess against a real broker (Tansu): JSON shape, Nagios
exit codes, `--queue` from config, samples recorded by earlier runs, `--watch`, an
unreachable broker, the missing `kafka` extra, and the SASL password staying secret."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
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
    args = ["kafka-lag", "--bootstrap-servers", broker.bootstrap, "--group", group, "-o", "json"]
    codes = []
    for committed in (0, 1, 2):
        broker.commit(group, {(topic, 0): committed})
        codes.append(jc.run(*args).rc)
        broker.produce(topic, 0, 3)
    assert codes == [0, 0, 1]
    res = jc.run(*args, "--window", "3")
    [entry] = json.loads(res.out)["groups"]
    assert res.rc == 1 and "lag growing" in entry["reason"]


def test_watch_prints_a_report_per_sample_and_exits_with_the_last_status(
    jc: Jobctl, broker: Broker
) -> None:
    _topic, group = _setup(broker, partitions=1)  # committed 1 of 4, no member: stopped
    proc = subprocess.Popen(
        [*jc.argv0, "kafka-lag", "--bootstrap-servers", broker.bootstrap, "--group", group,
         "--watch", "200ms", "-o", "json"],
        env=jc.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=jc.tmp, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    lines: list[dict] = []  # type: ignore[type-arg]
    try:
        wait_until(
            lambda: lines.append(json.loads(proc.stdout.readline())) or len(lines) >= 3,  # type: ignore[union-attr]
            30,
            0,
            "three watch reports",
        )
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    assert TRACEBACK not in err
    assert [doc["groups"][0]["status"] for doc in lines[:3]] == ["OK", "OK", "STOPPED"]
    assert proc.returncode == 2  # STOPPED reports at CRITICAL level


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
    ]


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
    try:
        wait_until(lambda: store.kafka.count() >= 3, 30, 0.1, "three samples from the daemon")
    finally:
        store.close()
    res = jc.run("kafka-lag", "--queue", "orders", "-o", "json")  # judged on a full window
    [entry] = json.loads(res.out)["groups"]
    assert (res.rc, entry["status"]) == (2, "STOPPED"), entry
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
