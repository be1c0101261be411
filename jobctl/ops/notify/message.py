"""What a notification says, per channel format: one summary line, an email subject and
body, the generic JSON document, Slack-compatible text and a PagerDuty Events API v2 event.

Pure functions of the event (or of a digest's folded events); secrets never enter here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from jobctl.domain.durations import iso_z
from jobctl.domain.notify import Event

PD_SEVERITIES = {"critical", "error", "warning", "info"}
TAIL_LINES = 20


def _what(event: Event) -> str:
    """The thing the event is about: schedule, job name, or job id."""
    if event.get("schedule"):
        return f"schedule {event.get('schedule')}"
    if event.get("name"):
        return f"job {event.get('name')}"
    if event.get("job_id"):
        return f"job {event.get('job_id')}"
    return event.subject


def summary(event: Event) -> str:
    """One line: `dead: schedule nightly (job 42, exit 3) on host-a`."""
    facts = []
    if event.get("job_id") is not None:
        facts.append(f"job {event.get('job_id')}")
    if event.get("attempt") is not None and event.kind == "failed":
        facts.append(f"attempt {event.get('attempt')}/{event.get('max_attempts')}")
    if event.get("failure_class") == "exit" and event.get("exit_code") is not None:
        facts.append(f"exit {event.get('exit_code')}")
    elif event.get("failure_class"):
        facts.append(str(event.get("failure_class")))
    for key in ("reason", "streak"):
        if event.get(key) and (key != "streak" or int(event.get(key)) > 1):
            facts.append(f"{key} {event.get(key)}")
    where = f" on {event.get('node')}" if event.get("node") else ""
    detail = f" ({', '.join(facts)})" if facts else ""
    return f"{event.kind}: {_what(event)}{detail}{where}"


def document(event: Event) -> dict[str, Any]:
    """The generic JSON of an event (webhook `format: json`, exec stdin)."""
    return {"id": event.id, "event": event.kind, "at": iso_z(event.at), **event.body,
            "summary": summary(event)}  # fmt: skip


def digest_document(route: str | None, events: Sequence[Event]) -> dict[str, Any]:
    """The generic JSON of a digest: what a route's max_per window folded."""
    return {
        "event": "digest",
        "route": route,
        "count": len(events),
        "events": [document(e) for e in events],
        "summary": digest_summary(route, events),
    }


def digest_summary(route: str | None, events: Sequence[Event]) -> str:
    kinds: dict[str, int] = {}
    for e in events:
        kinds[e.kind] = kinds.get(e.kind, 0) + 1
    counted = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    return f"digest: {len(events)} more events on route {route} ({counted})"


def slack(text: str, lines: Sequence[str] = ()) -> dict[str, Any]:
    """Slack-compatible incoming-webhook JSON."""
    body = "\n".join(lines)
    return {"text": text + (f"\n```{body}```" if body else "")}


def tail(event: Event, lines: int = TAIL_LINES) -> list[str]:
    text = str(event.get("output_tail") or "")
    return text.splitlines()[-lines:]


def pagerduty(event: Event | None, routing_key: str, digest: dict[str, Any] | None = None) -> Any:
    """PagerDuty Events API v2: `trigger` for trouble, `resolve` on recovery, one dedup key
    per schedule or job name (so the recovery resolves the incident its failure opened)."""
    if event is None:
        assert digest is not None
        return {
            "routing_key": routing_key,
            "event_action": "trigger",
            "dedup_key": f"jobctl/digest/{digest['route']}",
            "payload": {"summary": digest["summary"], "source": "jobctl", "severity": "error",
                        "custom_details": digest},
        }  # fmt: skip
    severity = str(event.get("severity") or "")
    if severity not in PD_SEVERITIES:
        severity = "critical" if severity == "page" else "error"
    if event.kind in ("too_long", "too_short", "missed", "deadline"):
        severity = "warning" if severity == "error" else severity
    action = "resolve" if event.kind == "recovered" else "trigger"
    return {
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": f"jobctl/{event.subject}",
        "payload": {
            "summary": summary(event)[:1024],
            "source": str(event.get("node") or "jobctl"),
            "severity": severity,
            "timestamp": iso_z(event.at),
            "custom_details": document(event),
        },
    }


def email(event: Event | None, digest: dict[str, Any] | None = None) -> tuple[str, str]:
    """(subject, body): what, where, when, exit code, the last lines of output and the
    command to look further."""
    if event is None:
        assert digest is not None
        lines = [digest["summary"], ""] + [f"- {e['summary']}" for e in digest["events"]]
        return f"[jobctl] {digest['summary']}", "\n".join(lines) + "\n"
    lines = [summary(event), ""]
    facts = [
        ("What", " ".join(event.get("command") or []) or _what(event)),
        ("Schedule", event.get("schedule")),
        ("Queue", event.get("queue")),
        ("Where", event.get("node")),
        ("When", iso_z(event.at)),
        ("Nominal time", event.get("nominal_at")),
        ("Attempt", event.get("attempt")),
        ("Exit code", event.get("exit_code")),
        ("Signal", event.get("signal")),
        ("Failure", event.get("failure_class")),
        ("Error", event.get("error")),
        ("Duration", event.get("duration")),
        ("Reason", event.get("reason")),
        ("Owner", event.get("owner")),
        ("Severity", event.get("severity")),
    ]
    lines += [f"{label}: {value}" for label, value in facts if value not in (None, "")]
    output = tail(event)
    if output:
        lines += ["", f"Last {len(output)} lines of output:"] + [f"  {o}" for o in output]
    if event.get("job_id") is not None:
        job = event.get("job_id")
        lines += ["", f"Look further: jobctl show {job}; jobctl logs {job}"]
    elif event.get("schedule"):
        lines += ["", f"Look further: jobctl schedule missed {event.get('schedule')}"]
    return f"[jobctl] {summary(event)}", "\n".join(lines) + "\n"
