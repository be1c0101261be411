"""`jobctl notify`: the deliveries of notification events (list, show, retry) and a test
send through one channel. The daemon's delivery loop lives in runtime/notify.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jobctl.config.model import Config
from jobctl.domain.durations import iso_z
from jobctl.domain.notify import Event
from jobctl.errors import NotFound
from jobctl.store import Store
from jobctl.store.repos.notify import Delivery


def delivery_shape(d: Delivery) -> dict[str, Any]:
    """A delivery as JSON (`notify list|show -o json`)."""
    event = d.event
    return {
        "id": d.id,
        "kind": d.kind,
        "event": event.kind if event else ("digest" if d.kind == "digest" else None),
        "event_id": event.id if event else None,
        "subject": event.subject if event else None,
        "route": d.route,
        "channel": d.channel,
        "state": d.state,
        "attempts": d.attempts,
        "created_at": iso_z(d.created_at),
        "next_at": iso_z(d.next_at),
        "finished_at": iso_z(d.finished_at),
        "answer": d.answer,
        "error": d.error,
        "digest_id": d.digest_id,
        "folded": [e.id for e in d.folded],
    }


def event_shape(event: Event) -> dict[str, Any]:
    from jobctl.ops.notify.message import document

    return document(event)


def list_deliveries(store: Store, state: str | None, limit: int) -> list[Delivery]:
    return store.notify.list([state] if state else [], limit)


def retry_delivery(store: Store, delivery_id: int, now: datetime) -> Delivery:
    """A dead (or retrying) delivery due again now; NotFound / InvalidInput otherwise."""
    return store.notify.retry(delivery_id, now)


def test_channel(config: Config, name: str, now: datetime, node: str) -> str:
    """Send a test event through channel `name` now; the channel's answer, or SendFailed
    (exit 1) with what went wrong. NotFound for a channel the config does not have."""
    from jobctl.ops.notify.channels import Outgoing, send

    channel = config.notify.channel(name)
    if channel is None:
        known = ", ".join(c.name for c in config.notify.channels) or "none configured"
        raise NotFound(f"no notification channel {name!r} (channels: {known})")
    body = {
        "subject": "test",
        "node": node,
        "reason": "a test from `jobctl notify test`",
        "severity": "info",
    }
    return send(channel, Outgoing(Event(0, "test", now, body)))
