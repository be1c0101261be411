"""Legal job state transitions (SPEC "Jobs"): the store only ever makes these moves."""

from __future__ import annotations

from jobctl.domain.job import State

TRANSITIONS: dict[State, frozenset[State]] = {
    State.WAITING: frozenset({State.QUEUED, State.CANCELLED}),
    State.QUEUED: frozenset({State.RUNNING, State.CANCELLED}),
    State.RUNNING: frozenset(
        {State.SUCCEEDED, State.RETRYING, State.DEAD, State.CANCELLED, State.QUEUED}
    ),  # QUEUED: lost runner or graceful stop puts it back
    State.RETRYING: frozenset({State.RUNNING, State.QUEUED, State.CANCELLED}),
    State.SUCCEEDED: frozenset(),
    State.DEAD: frozenset({State.QUEUED}),  # `retry` with a fresh attempt budget
    State.CANCELLED: frozenset({State.QUEUED}),  # `retry`
}


class IllegalTransition(ValueError):
    pass


def can_transition(current: State, target: State) -> bool:
    return target in TRANSITIONS[current]


def check_transition(current: State, target: State) -> None:
    """Raise IllegalTransition unless current → target is a legal move."""
    if not can_transition(current, target):
        raise IllegalTransition(f"a {current.value} job cannot become {target.value}")
