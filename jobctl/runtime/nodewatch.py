"""This daemon's view of its node: registration, heartbeat, and the operator's drain /
resume / forget, noticed within NODE_POLL seconds. The claim itself refuses a draining or
forgotten node (store side), so claims stop at once; this watch logs the change and says
when running jobs must be put back (`node drain --now`, `node forget`)."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import datetime

from jobctl import __version__
from jobctl.runtime.eventlog import EventLog
from jobctl.store import Store
from jobctl.store.repos.nodes import NodeInfo

NODE_POLL = 0.5  # seconds between looks at this node's row


@dataclass
class NodeWatch:
    store: Store
    log: EventLog
    node: str
    tags: frozenset[str]
    draining: bool = False
    put_back: bool = False  # running jobs must go back (drain --now, forgotten)
    _last: float = float("-inf")

    def register(self, now: datetime, heartbeat_interval: float) -> None:
        """Record this node (host, tags, version); a drain set earlier stays in force."""
        self.store.nodes.register(
            NodeInfo(
                name=self.node,
                host=socket.gethostname(),
                tags=tuple(sorted(self.tags)),
                version=__version__,
                started_at=now,
                heartbeat_at=now,
                heartbeat_interval=heartbeat_interval,
            )
        )
        self._last = float("-inf")

    def check(self, now: datetime, mono: float) -> bool:
        """Look at the node's row when NODE_POLL has passed; True when running jobs must be
        put back now (a drain --now or forget just seen)."""
        if mono - self._last < NODE_POLL:
            return False
        self._last = mono
        info = self.store.nodes.get(self.node)
        draining = info is not None and (info.draining or info.forgotten)
        put_back = info is not None and (info.drain_now or info.forgotten)
        if draining != self.draining:
            event = "node.draining" if draining else "node.resumed"
            extra = {"put_back": put_back, "forgotten": info.forgotten} if info and draining else {}
            self.log.emit(now, event, level="warning" if draining else "info", node=self.node,
                          **extra)  # fmt: skip
        newly = put_back and not self.put_back
        self.draining, self.put_back = draining, put_back
        return newly
