from __future__ import annotations

import itertools

import pytest

from jobctl.domain.job import TERMINAL, State
from jobctl.domain.states import TRANSITIONS, IllegalTransition, check_transition

LEGAL = {
    (State.WAITING, State.QUEUED),
    (State.WAITING, State.CANCELLED),
    (State.QUEUED, State.RUNNING),
    (State.QUEUED, State.CANCELLED),
    (State.RUNNING, State.SUCCEEDED),
    (State.RUNNING, State.RETRYING),
    (State.RUNNING, State.DEAD),
    (State.RUNNING, State.CANCELLED),
    (State.RUNNING, State.QUEUED),
    (State.RETRYING, State.RUNNING),
    (State.RETRYING, State.QUEUED),
    (State.RETRYING, State.CANCELLED),
    (State.DEAD, State.QUEUED),
    (State.CANCELLED, State.QUEUED),
}


@pytest.mark.parametrize("current,target", sorted(itertools.product(State, State)))
def test_every_transition_is_legal_or_refused(current: State, target: State) -> None:
    if (current, target) in LEGAL:
        check_transition(current, target)
    else:
        with pytest.raises(IllegalTransition):
            check_transition(current, target)


def test_succeeded_is_final() -> None:
    assert TRANSITIONS[State.SUCCEEDED] == frozenset()
    assert State.SUCCEEDED in TERMINAL
