"""Routing decisions (domain.notify): match, after: N, while_retrying, on_recovery, max_per."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jobctl.domain.notify import (
    Backoff,
    Event,
    Ownership,
    Route,
    Window,
    admit,
    digest_due,
    parse_max_per,
    plan,
    wants,
)
from jobctl.errors import InvalidInput

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def _event(kind: str = "dead", id: int = 1, **body: object) -> Event:
    return Event(id, kind, T0, {"subject": "schedule:nightly", "schedule": "nightly", **body})


def _route(**kw: object) -> Route:
    return Route(name=str(kw.pop("name", "r")), to=("c",), **kw)  # type: ignore[arg-type]


def test_a_route_matches_any_of_its_values_and_every_key() -> None:
    route = _route(match={"event": frozenset({"dead", "missed"}), "owner": frozenset({"billing"})})
    assert wants(route, _event("dead"), Ownership("billing"))
    assert not wants(route, _event("dead"), Ownership("web"))
    assert not wants(route, _event("too_long"), Ownership("billing"))


def test_failed_events_only_reach_routes_that_want_them_while_retrying() -> None:
    assert not wants(_route(), _event("failed", retrying=True), Ownership())
    assert wants(_route(while_retrying=True), _event("failed", retrying=True), Ownership())


def test_after_n_notifies_once_when_the_streak_reaches_n() -> None:
    route = _route(after=2)
    decided = [wants(route, _event("dead", streak=n), Ownership()) for n in (1, 2, 3, 4)]
    assert decided == [False, True, False, False]


def test_recovery_reaches_on_recovery_routes_and_only_after_a_notified_streak() -> None:
    route = _route(match={"event": frozenset({"dead"})}, on_recovery=True, after=2)
    assert wants(route, _event("recovered", streak=2), Ownership())
    assert not wants(route, _event("recovered", streak=1), Ownership())
    assert not wants(_route(), _event("recovered", streak=3), Ownership())


def test_max_per_admits_n_per_window_then_folds_until_the_window_ends() -> None:
    limit = parse_max_per("2/30m")
    window, results = Window("r"), []
    for minute in (0, 1, 2, 29):
        window, ok = admit(window, limit, T0 + timedelta(minutes=minute))
        results.append(ok)
    assert results == [True, True, False, False]
    assert not digest_due(window, limit, T0 + timedelta(minutes=29))
    assert digest_due(window, limit, T0 + timedelta(minutes=30))
    window, ok = admit(window, limit, T0 + timedelta(minutes=30))
    assert ok and window.sent == 1 and window.started_at == T0 + timedelta(minutes=30)


@pytest.mark.parametrize("text", ["2", "0/30m", "2/", "x/1m", "2/soon", "2/0s"])
def test_an_invalid_max_per_names_the_value(text: str) -> None:
    with pytest.raises(InvalidInput, match=f"invalid max_per '{text}'"):
        parse_max_per(text)


def test_plan_creates_one_delivery_per_channel_and_folds_over_the_limit() -> None:
    route = Route("pages", ("pd", "mail"), max_per=parse_max_per("1/1h"))
    events = [_event("dead", id=i) for i in (1, 2)]
    planned, windows = plan(events, [route], {}, T0)
    assert [(p.event_id, p.channel, p.folded) for p in planned] == [
        (1, "pd", False), (1, "mail", False), (2, "pd", True), (2, "mail", True),
    ]  # fmt: skip
    assert windows["pages"].sent == 1


def test_ownership_comes_from_the_schedule_else_job_type_else_queue() -> None:
    route = _route(match={"severity": frozenset({"page"})})
    event = Event(1, "dead", T0, {"job_type": "t", "queue": "q"})
    types = {"t": Ownership("team-t", None)}
    queues = {"q": Ownership("team-q", "page")}
    planned, _ = plan([event], [route], {}, T0, types, queues)
    assert len(planned) == 1


def test_backoff_grows_and_gives_up_after_its_bound() -> None:
    backoff = Backoff(base=2, cap=10, give_up_after=30)
    assert backoff.next_at(1, T0, T0) == T0 + timedelta(seconds=2)
    assert backoff.next_at(3, T0, T0) == T0 + timedelta(seconds=8)
    assert backoff.next_at(5, T0, T0) == T0 + timedelta(seconds=10)
    assert backoff.next_at(5, T0, T0 + timedelta(seconds=25)) is None
