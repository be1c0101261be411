"""dlq replay / purge through the real CLI and `daemon --burst`."""

from __future__ import annotations

import pytest

from tests.support.cli import Jobctl

ON_EACH_BACKEND = True  # the `jc` tests run on SQLite and on PostgreSQL

pytestmark = pytest.mark.slow


def dead(jc: Jobctl, *args: str) -> int:
    job_id = jc.enqueue("--max-attempts", "1", *args)
    jc.ok("daemon", "--burst")
    assert jc.show(job_id)["state"] == "dead"
    return job_id


def test_replay_runs_a_new_job_linked_both_ways_and_only_once(jc: Jobctl) -> None:
    flag = jc.tmp / "flag"
    job_id = dead(jc, "-Q", "default", "--payload", '{"n": 1}', "--", "test", "-e", str(flag))
    (entry,) = jc.json("dlq", "list")
    flag.touch()
    # a dry run lists the entry and changes nothing
    (plan,) = jc.json("dlq", "replay", "--all", "--dry-run")
    assert (plan["id"], plan["action"], plan["replayed_job_id"]) == (
        entry["id"],
        "would_replay",
        None,
    )
    assert jc.json("dlq", "show", str(entry["id"]))["replayed_job_id"] is None
    # the replay creates a new job from the dead one's spec, linked both ways
    out = jc.ok("dlq", "replay", str(entry["id"]))
    new_id = jc.json("dlq", "show", str(entry["id"]))["replayed_job_id"]
    assert f"replayed as job {new_id}" in out and new_id != job_id
    new = jc.show(new_id)
    assert (new["command"], new["payload"], new["replay_of"]) == (
        ["test", "-e", str(flag)],
        {"n": 1},
        entry["id"],
    )
    assert f"replay of dlq entry  {entry['id']}" in jc.ok("show", str(new_id))
    jc.ok("daemon", "--burst")
    assert jc.show(new_id)["state"] == "succeeded" and jc.show(job_id)["state"] == "dead"
    # idempotent: replaying again needs --again
    (again,) = jc.json("dlq", "replay", str(entry["id"]))
    assert again["action"] == "skipped" and "--again" in again["reason"]
    assert jc.json("dlq", "replay", "--all") == [], "--all skips replayed entries"
    (forced,) = jc.json("dlq", "replay", str(entry["id"]), "--again")
    assert forced["action"] == "replayed" and forced["replayed_job_id"] not in (new_id, None)
    assert [a["action"] for a in jc.json("audit", "--action", "dlq")] == ["dlq.replay"] * 4
    replays = jc.json("audit", "--action", "dlq")
    assert replays[0]["request_id"] == new["request_id"], "the new job carries the replay's id"


def test_a_key_held_by_a_live_job_is_skipped_and_reported(jc: Jobctl) -> None:
    dead(jc, "--key", "k1", "--", "false")
    (entry,) = jc.json("dlq", "list")
    live = jc.enqueue("--key", "k1", "--in", "1h", "--", "true")
    res = jc.run("dlq", "replay", "--all")
    assert res.rc == 0 and f"key 'k1' is held by live job {live}" in res.out, res
    assert jc.json("dlq", "show", str(entry["id"]))["replayed_job_id"] is None
    assert [j["id"] for j in jc.json("list")] == [live, entry["job_id"]]


def test_filters_by_queue_class_and_age(jc: Jobctl) -> None:
    dead(jc, "-Q", "default", "--", "false")
    assert len(jc.json("dlq", "list", "--older-than", "1h")) == 0
    assert len(jc.json("dlq", "list", "--since", "1h", "--class", "exit")) == 1
    assert jc.json("dlq", "replay", "--all", "--queue", "other", "--dry-run") == []
    assert jc.json("dlq", "replay", "--all", "--class", "timeout", "--dry-run") == []
    assert len(jc.json("dlq", "replay", "--all", "--class", "exit", "--dry-run")) == 1


def test_bad_replay_input_changes_nothing(jc: Jobctl) -> None:
    dead(jc, "--", "false")
    (entry,) = jc.json("dlq", "list")
    for args, code in [
        (("dlq", "replay", str(entry["id"]), "999"), 3),
        (("dlq", "replay"), 2),
        (("dlq", "replay", "1", "--all"), 2),
        (("dlq", "replay", "x"), 2),
        (("dlq", "show", "999"), 3),
    ]:
        res = jc.run(*args)
        assert res.rc == code and res.err.count("\n") == 1, (args, res)
    assert jc.json("dlq", "show", str(entry["id"]))["replayed_job_id"] is None
    assert len(jc.json("list")) == 1


def test_purge_needs_confirm_dlq_and_keeps_newer_entries(jc: Jobctl) -> None:
    dead(jc, "--", "false")
    (entry,) = jc.json("dlq", "list")
    assert jc.run("dlq", "purge").rc == 4
    assert jc.run("dlq", "purge", "--confirm", "DLQ").rc == 4
    assert "purged 0 DLQ entries" in jc.ok("dlq", "purge", "--older-than", "1h", "--confirm", "dlq")
    assert len(jc.json("dlq", "list")) == 1
    assert "purged 1 DLQ entry" in jc.ok("dlq", "purge", "--confirm", "dlq")
    assert jc.json("dlq", "list") == []
    assert jc.run("dlq", "replay", str(entry["id"])).rc == 3, "a purged entry is gone"
    assert jc.show(entry["job_id"])["state"] == "dead", "the dead job keeps its history"
    outcomes = [(a["action"], a["outcome"]) for a in jc.json("audit", "--action", "dlq.purge")]
    assert outcomes == [("dlq.purge", "refused")] * 2 + [("dlq.purge", "ok")] * 2
