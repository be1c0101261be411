"""Placement at the CLI (in process): `schedule add --on-node|--on-tag` is stored and its
runs carry it; bad placements are one-line invalid input that writes nothing."""

from __future__ import annotations

import json

from tests.support.inproc import InProcess


def test_schedule_add_stores_the_placement_and_its_runs_carry_it(cli: InProcess) -> None:
    res = cli.run("schedule", "add", "warm", "--cron", "@daily", "--on-tag", "cache", "--", "true")
    assert res.rc == 0, res
    shown = json.loads(cli.run("-o", "json", "schedule", "show", "warm").out)
    assert (shown["on_node"], shown["on_tag"]) == (None, "cache")
    assert cli.run("schedule", "run", "warm").rc == 0
    (job,) = json.loads(cli.run("-o", "json", "list").out)
    assert (job["on_node"], job["on_tag"]) == (None, "cache")


def test_schedule_add_with_a_node_and_a_tag_is_refused(cli: InProcess) -> None:
    assert cli.run("schedule", "add", "ok", "--cron", "@daily", "--", "true").rc == 0
    res = cli.run(
        "schedule", "add", "x", "--cron", "@daily", "--on-node", "a", "--on-tag", "b", "--", "true"
    )
    assert res.rc == 2 and "give --on-node or --on-tag, not both" in res.err
    assert len(res.err.strip().splitlines()) == 1
    names = [s["name"] for s in json.loads(cli.run("-o", "json", "schedule", "list").out)]
    assert names == ["ok"]


def test_enqueue_from_a_bulk_file_takes_placement_per_line(cli: InProcess) -> None:
    jobs = cli.tmp / "jobs.jsonl"
    jobs.write_text('{"command": ["true"], "on_node": "n2"}\n{"command": ["true"]}\n')
    assert cli.run("enqueue", "--from", str(jobs)).rc == 0
    listed = json.loads(cli.run("-o", "json", "list").out)
    assert sorted((j["on_node"] or "") for j in listed) == ["", "n2"]
