"""Several real daemons with different `--node` on one database (a PostgreSQL server, or one
SQLite file): drain, resume and forget nodes through the real CLI (SPEC "Cluster
operations")."""

from __future__ import annotations

import os
import random
import signal
from typing import Any

import psutil
import pytest

from tests.support.cli import Jobctl
from tests.support.waiting import wait_until

ON_EACH_BACKEND = True

pytestmark = pytest.mark.slow


def _nodes(jc: Jobctl) -> dict[str, dict[str, Any]]:
    return {n["name"]: n for n in jc.json("node", "list")}


def _status_states(jc: Jobctl) -> dict[str, str]:
    """`status`'s table of nodes: one line per node → its state column."""
    lines = jc.ok("status").lower().splitlines()
    head = next(i for i, line in enumerate(lines) if line.split()[:3] == ["node", "host", "state"])
    at, end = lines[head].index("state"), lines[head].index("tags")
    return {row.split()[0]: row[at:end].strip() for row in lines[head + 1 :] if row.strip()}


def _ran_on(jc: Jobctl, job_id: int) -> list[str]:
    job = jc.wait_state(job_id, "succeeded")
    return [a["node"] for a in job["attempt_log"]]


def _kill_with_arg(token: str) -> None:
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if token in (proc.info["cmdline"] or []):
                proc.kill()
        except psutil.Error:
            continue


def test_drain_stops_claiming_and_resume_starts_it_again(jc: Jobctl) -> None:
    # Given two nodes on one database
    jc.start_daemon("--node", "n1")
    jc.start_daemon("--node", "n2")
    assert {n: v["state"] for n, v in _nodes(jc).items()} == {"n1": "active", "n2": "active"}
    # When n1 is drained, every job runs on n2
    jc.ok("node", "drain", "n1")
    ids = [jc.enqueue("--", "true") for _ in range(4)]
    assert {node for i in ids for node in _ran_on(jc, i)} == {"n2"}
    assert _nodes(jc)["n1"]["state"] == "draining"
    # And status and health name the draining node
    assert _status_states(jc) == {"n1": "draining", "n2": "active"}
    health = jc.run("-o", "json", "health")
    (probe,) = [p for p in __import__("json").loads(health.out)["probes"] if p["name"] == "nodes"]
    assert probe["status"] == "WARNING" and "draining: n1" in probe["message"]
    # When n1 resumes and n2 drains, jobs run on n1
    jc.ok("node", "resume", "n1")
    jc.ok("node", "drain", "n2")
    ids = [jc.enqueue("--", "true") for _ in range(2)]
    assert {node for i in ids for node in _ran_on(jc, i)} == {"n1"}
    # And every action is in the audit log
    actions = [(e["action"], e["target"]) for e in jc.json("audit", "--action", "node")]
    assert actions == [
        ("node.drain", "n1"), ("node.resume", "n1"), ("node.drain", "n2")
    ]  # fmt: skip


def test_a_drained_nodes_running_job_finishes_there_or_with_now_goes_back(jc: Jobctl) -> None:
    jc.start_daemon("--node", "n1")
    jc.start_daemon("--node", "n2")
    jc.ok("node", "drain", "n2")
    # Given a job running on n1
    marker = tmp = jc.tmp / "started"
    slow = jc.enqueue("--", "sh", "-c", f"touch {marker}; sleep 2")
    wait_until(marker.exists, 15, 0.05, "the job started")
    # When n1 drains without --now, the job finishes on n1 (one attempt)
    jc.ok("node", "drain", "n1")
    job = jc.wait_state(slow, "succeeded")
    assert [a["node"] for a in job["attempt_log"]] == ["n1"]
    # Given another long job on n1 (n1 resumed, n2 still drained)
    jc.ok("node", "resume", "n1")
    token = f"60.{random.randint(100000, 999999)}"
    once = jc.tmp / "once"
    script = f"if [ -e {once} ]; then exit 0; fi; touch {once}; exec sleep {token}"
    long = jc.enqueue("--", "sh", "-c", script)
    wait_until(once.exists, 15, 0.05, "the long job started")
    # When n2 resumes and n1 drains --now, the job goes back without spending an attempt
    # and runs again on n2
    jc.ok("node", "resume", "n2")
    jc.ok("node", "drain", "n1", "--now")
    try:
        job = jc.wait_state(long, "succeeded", timeout=20)
    finally:
        _kill_with_arg(token)
    assert [a["node"] for a in job["attempt_log"]] == ["n2"]
    assert job["attempts"] == 1
    assert f"event=job.put_back job_id={long}" in jc.daemon_log(0)  # n1 says what it did
    del tmp


def test_forget_expires_a_gone_nodes_leases_at_once(jc: Jobctl) -> None:
    # Given n1 (a 60 s lease) running a job, and n2 drained
    n1 = jc.start_daemon("--node", "n1", "--lease", "60s")
    jc.start_daemon("--node", "n2", "--lease", "3s")
    jc.ok("node", "drain", "n2")
    token = f"60.{random.randint(100000, 999999)}"
    once = jc.tmp / "once"
    script = f"if [ -e {once} ]; then exit 0; fi; touch {once}; exec sleep {token}"
    job_id = jc.enqueue("--", "sh", "-c", script)
    wait_until(once.exists, 15, 0.05, "the job started")
    # When n1's host dies (kill -9) and the operator forgets it
    os.kill(n1.pid, signal.SIGKILL)
    n1.wait(10)
    _kill_with_arg(token)
    jc.ok("node", "resume", "n2")
    refused = jc.run("node", "forget", "n1")
    assert refused.rc == 4 and "--confirm n1" in refused.err
    out = jc.ok("node", "forget", "n1", "--confirm", "n1")
    assert "1 lease(s) expired" in out
    # Then n2 re-queues the job as lost and runs it well before n1's 60 s lease would end
    job = jc.wait_state(job_id, "succeeded", timeout=20)
    assert [a["node"] for a in job["attempt_log"]] == ["n1", "n2"]
    assert job["attempt_log"][0]["failure_class"] == "lost"
    assert set(_nodes(jc)) == {"n2"}


def test_an_unknown_node_is_one_line_exit_3(jc: Jobctl) -> None:
    jc.start_daemon("--node", "n1")
    for args in (("drain", "nope"), ("resume", "nope"), ("forget", "nope", "--confirm", "nope")):
        res = jc.run("node", *args)
        assert res.rc == 3, res
        assert res.err.strip() == "jobctl: error: unknown node 'nope' (known: n1)"
    assert [e["action"] for e in jc.json("audit", "--action", "node")] == []


def test_a_stopped_node_is_dead_and_stays_drained_when_it_comes_back(jc: Jobctl) -> None:
    d = jc.start_daemon("--node", "n1")
    jc.ok("node", "drain", "n1")
    d.send_signal(signal.SIGTERM)
    d.wait(15)
    node = _nodes(jc)["n1"]
    assert (node["state"], node["draining"]) == ("dead", True)
    assert _status_states(jc) == {"n1": "dead (draining)"}
    assert [(n["node"], n["state"]) for n in jc.json("top")["nodes"]] == [("n1", "dead")]
    # A restarted daemon on a drained node claims nothing until resume
    jc.start_daemon("--node", "n1")
    job_id = jc.enqueue("--", "true")
    assert _nodes(jc)["n1"]["state"] == "draining"
    assert jc.show(job_id)["state"] == "queued"
    jc.ok("node", "resume", "n1")
    jc.wait_state(job_id, "succeeded")


def _explain(jc: Jobctl, job_id: int) -> str:
    return str(jc.json("explain", str(job_id))["reason"])


def test_placement_is_honoured_and_explain_names_the_reason(jc: Jobctl) -> None:
    # Given a gpu node and a plain one
    jc.start_daemon("--node", "n1", "--tag", "gpu")
    jc.start_daemon("--node", "n2")
    assert _nodes(jc)["n1"]["tags"] == ["gpu"]
    # Jobs placed on the tag run on n1, jobs placed on n2 run there
    gpu = [jc.enqueue("--on-tag", "gpu", "--", "true") for _ in range(3)]
    on_n2 = [jc.enqueue("--on-node", "n2", "--", "true") for _ in range(3)]
    assert {node for i in gpu for node in _ran_on(jc, i)} == {"n1"}
    assert {node for i in on_n2 for node in _ran_on(jc, i)} == {"n2"}
    assert jc.show(gpu[0])["on_tag"] == "gpu"
    # A job for a tag nobody has is accepted and waits; explain says why
    tpu = jc.enqueue("--on-tag", "tpu", "--", "true")
    assert "No live daemon matches its placement (tag 'tpu')" in _explain(jc, tpu)
    assert jc.show(tpu)["state"] == "queued"
    # It starts once a daemon with the tag appears
    jc.start_daemon("--node", "n3", "--tag", "tpu", "--tag", "ssd")
    assert _ran_on(jc, tpu) == ["n3"]
    # A job only draining nodes may run: explain names them
    jc.ok("node", "drain", "n3")
    waiting = jc.enqueue("--on-tag", "tpu", "--", "true")
    assert "draining node (n3)" in _explain(jc, waiting)
    jc.ok("node", "resume", "n3")
    assert _ran_on(jc, waiting) == ["n3"]


def test_bad_placement_is_invalid_input_and_writes_nothing(jc: Jobctl) -> None:
    first = jc.enqueue("--", "true")
    for args, needle in (
        (("--on-node", "a", "--on-tag", "b"), "give --on-node or --on-tag, not both"),
        (("--on-tag", "bad tag"), "invalid --on-tag 'bad tag'"),
    ):
        res = jc.run("enqueue", *args, "--", "true")
        assert res.rc == 2 and needle in res.err and len(res.err.splitlines()) == 1, res
    assert jc.run("daemon", "--tag", "-x").rc == 2
    assert [j["id"] for j in jc.json("list")] == [first]
    assert [e["target"] for e in jc.json("audit")] == [str(first)]
