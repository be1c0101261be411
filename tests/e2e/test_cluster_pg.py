"""A small cluster with real processes: three daemons with their own `--node` and their own
runtime directory (as separate hosts have) on one PostgreSQL database.

Jobs write `start|end JOB ATTEMPT NODE` lines to one file with O_APPEND (`>>`), so the file's
line order is the order in which things happened on the machine.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.support.cli import TRACEBACK, Jobctl
from tests.support.pg import PgServer, fresh_url
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

NODES = ("n1", "n2", "n3")


def logged(log: Path, body: str = "sleep 0.05") -> list[str]:
    """A command that appends its start and end lines to `log` around `body`."""
    tag = "$JOBCTL_JOB_ID $JOBCTL_ATTEMPT $JOBCTL_NODE"
    return ["sh", "-c", f'echo "start {tag}" >> {log}; {body}; echo "end {tag}" >> {log}']


def events(log: Path) -> list[tuple[str, int, int, str]]:
    """(start|end, job, attempt, node) in the order they happened."""
    if not log.exists():
        return []
    out = []
    for line in log.read_text().splitlines():
        kind, job, attempt, node = line.split()
        out.append((kind, int(job), int(attempt), node))
    return out


def most_at_once(evs: list[tuple[str, int, int, str]]) -> int:
    running, peak = 0, 0
    for kind, *_ in evs:
        running += 1 if kind == "start" else -1
        peak = max(peak, running)
    return peak


class Cluster:
    """One `Jobctl` per node: same database, own runtime directory, own daemon logs."""

    def __init__(self, tmp: Path, db_url: str) -> None:
        self.db_url = db_url
        self.nodes: dict[str, Jobctl] = {}
        for name in NODES:
            (tmp / name).mkdir()
            jc = Jobctl(tmp / name, db_url)
            jc.env["JOBCTL_NODE"] = name
            self.nodes[name] = jc
        self.any = self.nodes["n1"]
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, node: str, *args: str) -> subprocess.Popen[bytes]:
        self.procs[node] = self.nodes[node].start_daemon("--node", node, *args)
        return self.procs[node]

    def start_all(self, *args: str) -> None:
        for node in NODES:
            self.start(node, *args)

    def kill9(self, node: str) -> None:
        proc = self.procs.pop(node)
        proc.kill()
        proc.wait(10)

    def set_config(self, path: Path) -> None:
        for jc in self.nodes.values():
            jc.env["JOBCTL_CONFIG"] = str(path)

    def enqueue_many(self, jobs: list[dict[str, Any]], via: str = "n1") -> list[int]:
        lines = "".join(json.dumps(j) + "\n" for j in jobs).encode()
        out = self.nodes[via].ok("enqueue", "--from", "-", input=lines)
        return [int(x) for x in out.split()]

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Read jobctl's tables directly (what the test checks, not how jobctl works)."""
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            conn.execute("SET search_path TO jobctl")
            return conn.execute(query, params).fetchall()

    def all_done(self, ids: list[int]) -> bool:
        rows = self.sql("SELECT count(*) FROM jobs WHERE id = ANY(%s) AND state = 'succeeded'",
                        (ids,))  # fmt: skip
        return rows[0][0] == len(ids)

    def stop(self) -> None:
        for jc in self.nodes.values():
            jc.stop_daemons()


@pytest.fixture
def cluster(tmp_path: Path, pg_server: PgServer) -> Iterator[Cluster]:
    urls = fresh_url(pg_server)
    c = Cluster(tmp_path, next(urls))
    try:
        yield c
    finally:
        c.stop()
        next(urls, None)  # drops the database
    for jc in c.nodes.values():
        for index in range(len(jc.daemons)):
            assert TRACEBACK not in jc.daemon_log(index), jc.daemon_log(index)


def test_no_attempt_runs_twice_at_once_across_three_nodes(cluster: Cluster, tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    cluster.start_all("--concurrency", "4")
    ids: list[int] = []
    for via in NODES:  # enqueued from every host
        ids += cluster.enqueue_many([{"command": logged(log, "sleep 0.01")}] * 100, via)
    wait_until(lambda: cluster.all_done(ids), 180, 0.5, "300 jobs succeeded")
    evs = events(log)
    starts = Counter((job, attempt) for kind, job, attempt, _ in evs if kind == "start")
    assert set(starts) == {(i, 1) for i in ids}, "a job ran an attempt other than its first"
    assert max(starts.values()) == 1, [k for k, n in starts.items() if n > 1]
    open_: set[int] = set()
    for kind, job, _attempt, _node in evs:
        if kind == "start":
            assert job not in open_, f"job {job} started while it ran"
            open_.add(job)
        else:
            open_.discard(job)
    rows = cluster.sql("SELECT job_id, count(*), count(DISTINCT node) FROM attempts"
                       " GROUP BY job_id HAVING count(*) > 1")  # fmt: skip
    assert rows == [], rows
    nodes = Counter(node for kind, _j, _a, node in evs if kind == "start")
    assert set(nodes) == set(NODES), f"every node took work: {nodes}"


def test_kill9_of_a_node_moves_its_jobs_elsewhere_within_about_one_lease(
    cluster: Cluster, tmp_path: Path
) -> None:
    lease = 3.0
    log = tmp_path / "runs.log"
    cluster.start_all("--concurrency", "4", "--lease", f"{lease:g}s", "--grace", "1s")
    # 6 jobs, 12 slots: the survivors have room for the dead node's jobs
    # (a lost attempt is retried with the job's backoff, as any failure: keep it small here)
    job = {"command": logged(log, "sleep 6"), "backoff": "fixed", "backoff_base": "0.1s"}
    ids = cluster.enqueue_many([job] * 6)

    def victim() -> tuple[str, list[int]] | None:
        rows = cluster.sql("SELECT node, job_id FROM attempts WHERE finished_at IS NULL")
        nodes = sorted({node for node, _ in rows})
        return (nodes[0], [j for n, j in rows if n == nodes[0]]) if nodes else None

    node, victims = wait_until(victim, 30, 0.1, "a node running jobs")
    cluster.kill9(node)
    killed_at = time.time()

    def moved() -> list[tuple[int, float]]:
        rows = cluster.sql(
            "SELECT job_id, started_at FROM attempts"
            " WHERE job_id = ANY(%s) AND attempt = 2 AND node <> %s",
            (victims, node),
        )
        return rows if len(rows) == len(victims) else []  # type: ignore[return-value]

    restarted = wait_until(moved, 4 * lease + 20, 0.2, f"jobs {victims} of {node} re-run elsewhere")
    delays = [float(at) - killed_at for _job, at in restarted]
    # one lease, plus one reap period (lease/3), plus a loaded machine's slack
    assert max(delays) <= lease + lease / 3 + 2.5, delays
    wait_until(lambda: cluster.all_done(ids), 60, 0.5, "every job succeeded")


def test_queue_concurrency_two_holds_across_three_nodes(cluster: Cluster, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("queues:\n  - name: default\n    concurrency: 2\n")
    cluster.set_config(config)
    log = tmp_path / "runs.log"
    cluster.start_all("--concurrency", "4")
    ids = cluster.enqueue_many([{"command": logged(log, "sleep 0.3")}] * 24)
    seen: list[int] = []

    def sample() -> bool:
        seen.append(cluster.sql("SELECT count(*) FROM jobs WHERE state = 'running'")[0][0])
        return cluster.all_done(ids)

    wait_until(sample, 120, 0.05, "24 jobs succeeded")
    assert max(seen) <= 2, f"{max(seen)} running at once in a queue of concurrency 2"
    evs = events(log)
    assert most_at_once(evs) == 2, "both slots were used, never three"


def test_an_ordering_key_is_serialised_across_nodes(cluster: Cluster, tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    cluster.start_all("--concurrency", "4")
    ordered = [{"command": logged(log, "sleep 0.05"), "ordering_key": "acct-7"}] * 20
    other = [{"command": ["true"]}] * 20  # keeps other slots busy meanwhile
    ids = cluster.enqueue_many([x for pair in zip(ordered, other, strict=True) for x in pair])
    wait_until(lambda: cluster.all_done(ids), 120, 0.3, "every job succeeded")
    evs = events(log)
    assert [kind for kind, *_ in evs] == ["start", "end"] * 20, "two ran at once"
    jobs = [job for kind, job, *_ in evs if kind == "start"]
    assert jobs == sorted(jobs), "in enqueue order"


def test_a_per_second_schedule_fires_exactly_once_while_nodes_die_and_return(
    cluster: Cluster,
) -> None:
    args = ("--lease", "3s", "--grace", "1s")
    # `--misfire all`: a fire decided late (a daemon's slow start or a stall under load: a
    # per-second schedule's grace is 1 s) still runs, so every second is one job exactly
    cluster.any.ok("schedule", "add", "tick", "--cron", "* * * * * *", "--overlap", "allow",
                   "--misfire", "all", "--", "true")  # fmt: skip
    cluster.start_all(*args)
    begin = time.time()
    for node in itertools.islice(itertools.cycle(NODES), 6):  # always two of three alive
        time.sleep(2.5)
        cluster.kill9(node)
        time.sleep(1.0)
        cluster.start(node, *args)
    time.sleep(3)
    cluster.stop()
    elapsed = time.time() - begin
    rows = cluster.sql("SELECT nominal_at FROM jobs WHERE schedule = 'tick' ORDER BY nominal_at")
    nominal = [float(r[0]) for r in rows]
    assert len(set(nominal)) == len(nominal), "a fire was enqueued twice"
    gaps = {b - a for a, b in itertools.pairwise(nominal)}
    assert gaps == {1.0}, f"missing seconds while a node was up: {sorted(gaps)}"
    assert len(nominal) >= elapsed - 8, f"{len(nominal)} fires in {elapsed:.0f}s"
    missed = cluster.any.json("schedule", "missed", "tick")
    assert missed == [], missed


def test_a_lock_and_a_once_run_are_exclusive_across_nodes(cluster: Cluster, tmp_path: Path) -> None:
    log = tmp_path / "lock.log"
    body = (f'echo "start $JOBCTL_LOCK_TOKEN" >> {log}; sleep 0.2;'
            f' echo "end $JOBCTL_LOCK_TOKEN" >> {log}')  # fmt: skip
    procs = [
        subprocess.Popen(
            [*jc.argv0, "lock", "shared", "--ttl", "10s", "--wait", "60s", "--", "sh", "-c", body],
            env=jc.env, cwd=jc.tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        for jc in cluster.nodes.values()
        for _ in range(3)
    ]  # fmt: skip
    for proc in procs:
        _out, err = proc.communicate(timeout=90)
        assert proc.returncode == 0, err.decode()
    lines = [line.split() for line in log.read_text().splitlines()]
    assert [kind for kind, _ in lines] == ["start", "end"] * 9, "two holders at once"
    tokens = [int(token) for kind, token in lines if kind == "start"]
    assert tokens == sorted(tokens) and len(set(tokens)) == 9, tokens

    once_log = tmp_path / "once.log"
    procs = [
        subprocess.Popen(
            [*jc.argv0, "once", "run", "migrate-1", "--wait", "60s", "--",
             "sh", "-c", f"echo $JOBCTL_NODE >> {once_log}; sleep 1"],
            env=jc.env, cwd=jc.tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        for jc in cluster.nodes.values()
    ]  # fmt: skip
    for proc in procs:
        _out, err = proc.communicate(timeout=90)
        assert proc.returncode == 0, err.decode()
    assert len(once_log.read_text().splitlines()) == 1, once_log.read_text()


def _terminate_backends(db_url: str) -> int:
    """Every connection to the test database ends at once, as in a failover (other tests'
    databases are left alone)."""
    name = db_url.rsplit("/", 1)[1].split("?")[0]
    with psycopg.connect(db_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return len(rows)


def test_a_failover_loses_no_acknowledged_enqueue_and_daemons_ride_it_out(
    cluster: Cluster, tmp_path: Path
) -> None:
    log = tmp_path / "runs.log"
    cluster.start_all("--concurrency", "4", "--lease", "5s")
    acked: list[int] = []
    refused: list[str] = []
    stop = threading.Event()

    def enqueuer(jc: Jobctl) -> None:
        while not stop.is_set():
            res = jc.run("enqueue", "--", *logged(log, "true"))
            if res.rc == 0:
                acked.append(int(res.out))
            else:
                assert res.rc == 75 and len(res.err.splitlines()) == 1, res
                refused.append(res.err)

    threads = [threading.Thread(target=enqueuer, args=(jc,)) for jc in cluster.nodes.values()]
    for t in threads:
        t.start()
    try:
        terminated = 0
        for _ in range(4):
            time.sleep(1.5)
            terminated += _terminate_backends(cluster.db_url)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert terminated >= 4, "the daemons were connected and were cut off"
    wait_until(lambda: cluster.all_done(acked), 120, 0.5, f"all {len(acked)} acknowledged ran")
    alive = {node: p.poll() for node, p in cluster.procs.items()}
    assert alive == dict.fromkeys(NODES), f"daemons exited: {alive}"
    # and they still take work after the last cut
    after = cluster.enqueue_many([{"command": logged(log, "true")}] * 9, "n2")
    wait_until(lambda: cluster.all_done(after), 60, 0.3, "jobs after the failover")
    started = defaultdict(int)
    for kind, job, _a, _n in events(log):
        started[job] += kind == "start"
    assert all(started[j] >= 1 for j in acked + after)
