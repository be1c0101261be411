"""Nodes of a cluster: list them with their state (active | draining | dead), drain,
resume and forget them. The operator's words of SPEC "Cluster operations"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jobctl.domain.durations import iso_z
from jobctl.domain.placement import Placement
from jobctl.errors import NotFound
from jobctl.store import Store
from jobctl.store.repos.nodes import NodeInfo

ACTIVE, DRAINING, DEAD = "active", "draining", "dead"


def node_state(node: NodeInfo) -> str:
    """dead: no daemon of it heartbeats; draining: it claims nothing; else active."""
    if not node.alive:
        return DEAD
    return DRAINING if node.draining else ACTIVE


def list_nodes(store: Store) -> list[NodeInfo]:
    """Every known node (not forgotten), by name, judged on the database's clock."""
    return store.nodes.list(store.now())


def fire_nodes(store: Store, queue: str, on_tag: str | None, now: datetime) -> list[str]:
    """The nodes an `--on-every-node` schedule runs on now, by name: each with a live
    daemon serving `queue`, not draining, and with `on_tag` when given."""
    serving = {d.node for d in store.daemons.live(now) if d.queues is None or queue in d.queues}
    where = Placement(on_tag=on_tag)
    return [
        n.name
        for n in store.nodes.list(now)
        if n.name in serving and not n.draining and where.matches(n.name, n.tags)
    ]


def known_node(store: Store, name: str) -> NodeInfo:
    """The node `name`, or NotFound (exit 3) naming it and the known ones."""
    node = store.nodes.get(name)
    if node is None or node.forgotten:
        names = ", ".join(n.name for n in list_nodes(store)) or "none"
        raise NotFound(f"unknown node {name!r} (known: {names})")
    return node


def drain(store: Store, name: str, now: datetime, put_back: bool = False) -> NodeInfo:
    """Stop `name` claiming (at once: every claim checks it); its running jobs finish, or
    with `put_back` its daemon terminates them and puts them back without spending an
    attempt. The drain stays across daemon restarts until `resume`."""
    known_node(store, name)
    if not store.nodes.set_draining(name, True, put_back, now):
        raise NotFound(f"unknown node {name!r}")
    return known_node(store, name)


def resume(store: Store, name: str, now: datetime) -> NodeInfo:
    """Let `name` claim again."""
    known_node(store, name)
    if not store.nodes.set_draining(name, False, False, now):
        raise NotFound(f"unknown node {name!r}")
    return known_node(store, name)


@dataclass(frozen=True)
class Forgotten:
    node: NodeInfo
    leases_expired: int
    was_alive: bool  # a daemon of it still heartbeated: it stops claiming and puts jobs back


def forget(store: Store, name: str, now: datetime) -> Forgotten:
    """`name` is gone for good: the leases of the jobs it ran expire at once (another
    daemon re-queues them as lost), its daemons are no longer counted live, and it leaves
    `node list` until a daemon starts on it again."""
    node = known_node(store, name)
    alive = any(n.alive for n in list_nodes(store) if n.name == name)
    expired = store.nodes.forget(name, now)
    if expired is None:
        raise NotFound(f"unknown node {name!r}")
    return Forgotten(node, expired, alive)


def node_shape(node: NodeInfo) -> dict[str, Any]:
    """`node list -o json`: one node."""
    return {
        "name": node.name,
        "host": node.host,
        "tags": list(node.tags),
        "version": node.version,
        "started_at": iso_z(node.started_at),
        "heartbeat_at": iso_z(node.heartbeat_at),
        "state": node_state(node),
        "draining": node.draining,
        "running": node.running,
    }
