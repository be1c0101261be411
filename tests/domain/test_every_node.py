"""`--on-every-node` fires as pure values: one job per node, node i of k at
start + i*stagger/k by name, and overlap per node."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jobctl.domain.schedule import NodeRun, Outcome, Overlap, every_node_fire, spread_over_nodes

AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_the_nodes_starts_spread_evenly_over_the_stagger_by_name() -> None:
    runs = spread_over_nodes(["n3", "n1", "n2", "n4"], AT, 60.0)
    assert runs == [NodeRun(n, AT + timedelta(seconds=s)) for n, s in
                    (("n1", 0), ("n2", 15), ("n3", 30), ("n4", 45))]  # fmt: skip


def test_without_a_stagger_every_node_starts_at_the_fire() -> None:
    assert [r.run_at for r in spread_over_nodes(["b", "a", "a"], AT, None)] == [AT, AT]


def test_no_node_is_its_own_outcome() -> None:
    decision = every_node_fire(AT, AT, [], 30.0, Overlap.FORBID)
    assert (decision.outcome, decision.nodes) == (Outcome.NO_NODE, ())


def test_overlap_forbid_skips_only_the_busy_nodes_and_keeps_the_others_slots() -> None:
    decision = every_node_fire(AT, AT, ["n1", "n2", "n3"], 30.0, Overlap.FORBID, {"n2"})
    assert decision.outcome is Outcome.ENQUEUED
    assert decision.nodes == (NodeRun("n1", AT), NodeRun("n3", AT + timedelta(seconds=20)))
    assert decision.skipped_nodes == ("n2",)


def test_every_node_busy_is_an_overlap_and_allow_ignores_busy_nodes() -> None:
    nodes = ["n1", "n2"]
    assert every_node_fire(AT, AT, nodes, None, Overlap.FORBID, {"n1", "n2"}).outcome is (
        Outcome.OVERLAP
    )
    allowed = every_node_fire(AT, AT, nodes, None, Overlap.ALLOW, {"n1", "n2"})
    assert [r.node for r in allowed.nodes] == nodes and allowed.skipped_nodes == ()
