"""Placement at the CLI (in process): `schedule add --on-node|--on-tag` is stored and its
runs carry it; bad placements are one-line invalid input that writes nothing."""

from __future__ import annotations

import json
from datetime import datetime

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


def _live_nodes(cli: InProcess, *names: str) -> None:
    """Daemons of `names` heartbeat now (long intervals: they stay live for the test)."""
    from jobctl.clock import utcnow
    from jobctl.store import open_store
    from jobctl.store.repos.daemons import DaemonInfo
    from jobctl.store.repos.nodes import NodeInfo

    store, now = open_store(str(cli.db)), utcnow()
    try:
        for name in names:
            store.daemons.register(
                DaemonInfo(f"{name}:1:x", name, name, 1, "t", None, now, now, 3600)
            )
            store.nodes.register(NodeInfo(name, name, (), "t", now, now, 3600))
    finally:
        store.close()


def test_on_every_node_is_stored_shown_and_run_fans_out_over_the_stagger(cli: InProcess) -> None:
    # Given an every-node schedule with a 1 minute stagger
    add = ("schedule", "add", "rotate", "--cron", "@daily", "--on-every-node", "--stagger", "1m")
    assert cli.run(*add, "--", "logrotate").rc == 0
    shown = json.loads(cli.run("-o", "json", "schedule", "show", "rotate").out)
    assert (shown["on_every_node"], shown["stagger"], shown["nodes_now"]) == (True, 60.0, [])
    assert "its next fire would run nowhere" in shown["why"]
    # Without a live node, `schedule run` enqueues nothing and says why
    res = cli.run("schedule", "run", "rotate")
    assert res.rc == 1 and "nothing was enqueued" in res.err and res.out == ""
    assert json.loads(cli.run("-o", "json", "list").out) == []
    # With three, it enqueues one job per node, node i of 3 due i*20 s after the first
    _live_nodes(cli, "n2", "n1", "n3")
    res = cli.run("schedule", "run", "rotate")
    assert res.rc == 0 and len(res.out.split()) == 3, res
    jobs = sorted(json.loads(cli.run("-o", "json", "list").out), key=lambda j: j["id"])
    assert [j["on_node"] for j in jobs] == ["n1", "n2", "n3"]
    starts = [datetime.fromisoformat(j["run_at"].replace("Z", "+00:00")) for j in jobs]
    assert [(s - starts[0]).total_seconds() for s in starts] == [0.0, 20.0, 40.0]
    shown = json.loads(cli.run("-o", "json", "schedule", "show", "rotate").out)
    assert (shown["nodes_now"], shown["why"]) == (["n1", "n2", "n3"], None)
    # And every run is in the audit log with its jobs
    (entry,) = [e for e in json.loads(cli.run("-o", "json", "audit").out)
                if e["action"] == "schedule.run" and e["args"].get("job_ids")]  # fmt: skip
    assert entry["args"]["job_ids"] == [j["id"] for j in jobs]


def test_on_every_node_with_on_node_or_a_lone_stagger_is_invalid_input(cli: InProcess) -> None:
    assert cli.run("schedule", "add", "ok", "--cron", "@daily", "--", "true").rc == 0
    audit = cli.run("-o", "json", "audit").out
    for args, needle in (
        (("--on-every-node", "--on-node", "n1"), "give --on-every-node or --on-node, not both"),
        (("--stagger", "30s",), "--stagger spreads the jobs of --on-every-node: give both"),
        (("--on-every-node", "--stagger", "soon"), "invalid stagger 'soon'"),
    ):  # fmt: skip
        res = cli.run("schedule", "add", "x", "--cron", "@daily", *args, "--", "true")
        assert res.rc == 2 and needle in res.err and len(res.err.strip().splitlines()) == 1, res
    assert [s["name"] for s in json.loads(cli.run("-o", "json", "schedule", "list").out)] == ["ok"]
    assert cli.run("-o", "json", "audit").out == audit


def test_config_schedules_take_on_every_node_and_stagger(cli: InProcess) -> None:
    cli.config.write_text(
        "schedules:\n"
        "  - {name: certs, cron: '0 6 * * *', command: [check-certs], on_every_node: true,"
        " on_tag: web, stagger: 5m}\n"
        "  - {name: bad, cron: '0 6 * * *', command: ['true'], on_node: n1, on_every_node: true}\n"
    )
    res = cli.run("config", "check")
    assert res.rc == 2 and "on_every_node" in res.err and "certs" not in res.err, res
    cli.config.write_text(
        "schedules:\n"
        "  - {name: certs, cron: '0 6 * * *', command: [check-certs], on_every_node: true,"
        " on_tag: web, stagger: 5m}\n"
    )
    assert cli.run("config", "check").rc == 0


def test_export_notes_what_cron_cannot_say_about_every_node(cli: InProcess) -> None:
    add = ("schedule", "add", "rotate", "--cron", "0 3 * * *", "--on-every-node", "--on-tag",
           "web", "--stagger", "10m", "--", "logrotate", "/etc/logrotate.conf")  # fmt: skip
    assert cli.run(*add).rc == 0
    res = cli.run("schedule", "export", "rotate")
    assert res.rc == 0, res
    assert (
        "# jobctl schedule rotate (on every node tagged web: install this line on each of them;"
        " stagger 10m00s: cron starts them all on time)\n0 3 * * * logrotate /etc/logrotate.conf"
    ) in res.out
