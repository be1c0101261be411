"""Gang jobs on a small cluster of real processes: three daemons with one slot each, on one
PostgreSQL database (tests/e2e/test_cluster_pg.py's Cluster).

Every member takes a lock file of its rank with `flock -n` for as long as its process tree
lives, and appends `start|end RANK ATTEMPT NODE` lines to one log (O_APPEND: the line order
is the order things happened). A second copy of a rank running at once would find the lock
taken and log `overlap`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.e2e import test_cluster_pg
from tests.e2e.test_cluster_pg import Cluster
from tests.support.waiting import wait_until

cluster = test_cluster_pg.cluster  # the fixture: three nodes on one PostgreSQL database

pytestmark = pytest.mark.slow

TAG = "$JOBCTL_GANG_RANK $JOBCTL_ATTEMPT $JOBCTL_NODE"


def member(tmp: Path, log: Path, body: str) -> list[str]:
    """A gang member's command: under its rank's lock, log start, run `body`, log end (a
    `body` ending in `exit` logs no end)."""
    script = (  # the shell and its children hold fd 9, and with it the rank's lock
        f"exec 9> {tmp}/rank.$JOBCTL_GANG_RANK;"
        f' flock -n 9 || {{ echo "overlap {TAG}" >> {log}; exit 9; }};'
        f' echo "start {TAG}" >> {log}; {body}; rc=$?; echo "end {TAG}" >> {log}; exit $rc'
    )
    return ["sh", "-c", script]


def lines(log: Path) -> list[list[str]]:
    return [line.split() for line in log.read_text().splitlines()] if log.exists() else []


def gang(cluster: Cluster, gang_id: int) -> dict:  # type: ignore[type-arg]
    return cluster.any.json("show", str(gang_id))["gang"]  # type: ignore[no-any-return]


def test_a_gang_of_three_takes_one_slot_on_each_node_and_runs_together(
    cluster: Cluster, tmp_path: Path
) -> None:
    cluster.start_all("--concurrency", "1")
    log = tmp_path / "runs.log"
    out = cluster.any.ok("enqueue", "--gang", "3", "--", *member(tmp_path, log, "sleep 0.5"))
    gang_id = int(out)
    wait_until(lambda: gang(cluster, gang_id)["state"] == "succeeded", 60, 0.2, "the gang")
    evs = lines(log)
    assert [e[0] for e in evs[:3]] == ["start"] * 3, evs  # all started before any ended
    assert sorted(e[1] for e in evs if e[0] == "start") == ["0", "1", "2"]
    assert sorted(e[3] for e in evs if e[0] == "start") == ["n1", "n2", "n3"]
    # `show` lists the members and where each ran, from any host
    shown = cluster.nodes["n3"].json("show", str(gang_id))["gang"]
    assert [m["rank"] for m in shown["members"]] == [0, 1, 2]
    assert sorted(m["node"] for m in shown["members"]) == ["n1", "n2", "n3"]
    assert shown["epoch"] == 1
    human = cluster.nodes["n2"].ok("show", str(shown["members"][1]["job_id"]))
    assert f"{gang_id}: rank 1 of 3, succeeded, epoch 1" in human, human


def test_a_failing_member_stops_the_others_which_resume_from_their_checkpoints(
    cluster: Cluster, tmp_path: Path
) -> None:
    cluster.start_all("--concurrency", "1")
    log = tmp_path / "runs.log"
    seen = tmp_path / "seen"
    seen.mkdir()
    jobctl = f"{sys.executable} -m jobctl"
    seen_it = f'echo "${{JOBCTL_CHECKPOINT:-none}}" > {seen}/$JOBCTL_GANG_RANK.$JOBCTL_ATTEMPT'
    body = (  # ranks 0 and 2 note their start once their TERM trap is set
        f' if [ "$JOBCTL_ATTEMPT" = 2 ]; then {seen_it}; exit 0; fi;'
        ' if [ "$JOBCTL_GANG_RANK" = 1 ]; then'
        f"   {seen_it};"
        f'   while [ "$(ls {seen} | wc -l)" -lt 3 ]; do sleep 0.05; done; exit 3;'
        " fi;"
        f' trap "{jobctl} checkpoint set at-\\$JOBCTL_GANG_RANK; exit 143" TERM;'
        f" {seen_it};"
        " while true; do sleep 0.05; done"
    )
    out = cluster.any.ok(
        "enqueue", "--gang", "3", "--max-attempts", "3", "--backoff-base", "1s",
        "--", *member(tmp_path, log, body),
    )  # fmt: skip
    gang_id = int(out)
    wait_until(lambda: gang(cluster, gang_id)["state"] == "succeeded", 90, 0.2, "the gang")
    shown = gang(cluster, gang_id)
    assert shown["epoch"] == 2
    # one attempt spent in all: every member is at attempt 2 (of 3)
    assert [m["attempts"] for m in shown["members"]] == [2, 2, 2]
    classes = []
    for m in shown["members"]:
        attempts = cluster.any.json("show", str(m["job_id"]))["attempt_log"]
        classes.append(attempts[0]["failure_class"])
    assert classes == ["preempted", "exit", "preempted"]
    # the stopped members resumed from the checkpoints they saved in the grace
    assert (seen / "0.2").read_text().strip() == "at-0"
    assert (seen / "2.2").read_text().strip() == "at-2"
    assert (seen / "1.2").read_text().strip() == "none"
    assert not [e for e in lines(log) if e[0] == "overlap"]


def test_kill_9_of_a_members_node_retries_the_gang_never_two_copies_of_a_rank(
    cluster: Cluster, tmp_path: Path
) -> None:
    for node in ("n1", "n2", "n3"):
        cluster.start(node, "--concurrency", "1", "--lease", "3s")
    log = tmp_path / "runs.log"
    flag = tmp_path / "second-run"
    body = f"if [ -e {flag} ]; then exit 0; fi; sleep 300"
    gang_id = int(cluster.any.ok("enqueue", "--gang", "3", "--", *member(tmp_path, log, body)))
    wait_until(
        lambda: len([e for e in lines(log) if e[0] == "start"]) == 3, 60, 0.1, "three starts"
    )
    on_n2 = next(e[1] for e in lines(log) if e[0] == "start" and e[3] == "n2")
    # When n2's daemon is killed -9, the gang stops (its member there is lost) and waits:
    # two live slots cannot hold it
    flag.touch()
    cluster.kill9("n2")
    wait_until(lambda: gang(cluster, gang_id)["state"] == "waiting", 60, 0.2, "the gang stops")
    # When n2 comes back, the gang runs again as one and ends
    cluster.start("n2", "--concurrency", "1", "--lease", "3s")
    wait_until(lambda: gang(cluster, gang_id)["state"] == "succeeded", 60, 0.2, "the gang")
    evs = lines(log)
    assert not [e for e in evs if e[0] == "overlap"], evs
    shown = gang(cluster, gang_id)
    assert shown["epoch"] == 2
    lost = cluster.any.json("show", str(shown["members"][int(on_n2)]["job_id"]))
    assert lost["attempt_log"][0]["failure_class"] == "lost"
    assert json.dumps(shown).count('"succeeded"') >= 3


def test_bad_gangs_are_refused_at_enqueue(cluster: Cluster) -> None:
    # With no live node a gang is accepted (it waits); with nodes, one larger than their
    # slots is invalid input naming the capacity
    assert cluster.any.ok("enqueue", "--gang", "9", "--", "true").strip().isdigit()
    cluster.start_all("--concurrency", "2")
    res = cluster.any.run("enqueue", "--gang", "7", "--", "true")
    assert res.rc == 2 and "capacity of 6 slots on 3 live nodes" in res.err, res
    res = cluster.any.run("enqueue", "--gang", "0", "--", "true")
    assert res.rc == 2 and "invalid --gang 0" in res.err, res
    res = cluster.any.run("enqueue", "--gang", "2", "--on-tag", "gpu", "--", "true")
    assert res.rc == 0, res  # no live node has the tag: it waits
    job = res.out.strip()
    why = cluster.any.json("explain", job)
    assert "No live daemon matches its placement" in why["reason"], why


def test_gangs_interleaved_with_single_jobs_all_start_promptly(
    cluster: Cluster, tmp_path: Path
) -> None:
    # A daemon whose reservation was completed by another daemon while its own claim pass
    # ran must still launch its member (a pass that saw the gang started but not the
    # member running left it unlaunched until its lease ran out)
    cluster.start_all("--concurrency", "1")
    from jobctl.client import Client
    from jobctl.config.model import Config
    from jobctl.config.resolve import EnqueueOptions

    with Client(cluster.db_url, Config()) as client:
        for n in range(40):
            for gang in (None, 3):
                out = tmp_path / f"starts-{n}-{gang}"
                command = ["sh", "-c", f"echo x >> {out}"]
                client.enqueue_options([EnqueueOptions(command=command, gang=gang)])
                wait_until(
                    lambda o=out, g=gang: o.exists() and len(o.read_text().split()) == (g or 1),
                    10,
                    0.002,
                    f"round {n}: {gang or 1} start(s)",
                )


def test_enqueue_wait_of_a_gang_returns_when_the_whole_gang_has_ended(cluster: Cluster) -> None:
    # Given rank 0 ending at once and rank 1 a moment later
    cluster.start("n1", "--concurrency", "2")
    res = cluster.any.run(
        "enqueue", "--gang", "2", "--wait", "--",
        "sh", "-c", '[ "$JOBCTL_GANG_RANK" = 1 ] && sleep 1; exit 0',
    )  # fmt: skip
    # Then --wait returned only once both had succeeded
    assert res.rc == 0, res
    gang_id = int(res.out.split()[0])
    assert [m["state"] for m in gang(cluster, gang_id)["members"]] == ["succeeded"] * 2
