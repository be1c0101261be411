"""Checkpoints of the current job or once-run, found through the environment they were given
(JOBCTL_ONCE for a once-run, which wins over JOBCTL_JOB_ID, else the job)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from jobctl.errors import InvalidInput

if TYPE_CHECKING:
    from jobctl.store.protocol import Store


@dataclass(frozen=True)
class Owner:
    """Whose checkpoint: a run-once NAME, or a job id."""

    once: str | None = None
    job_id: int | None = None
    epoch: int | None = None  # a gang member's epoch: a stale one's checkpoint is refused


def current_owner(env: Mapping[str, str]) -> Owner:
    """The once-run or job this process runs in; InvalidInput outside both."""
    if env.get("JOBCTL_ONCE"):
        return Owner(once=env["JOBCTL_ONCE"])
    value = env.get("JOBCTL_JOB_ID")
    if not value:
        raise InvalidInput(
            "no current job or once-run: JOBCTL_JOB_ID / JOBCTL_ONCE is not set "
            "(run this inside a job or `jobctl once run`)"
        )
    try:
        job_id = int(value)
    except ValueError:
        raise InvalidInput(f"invalid JOBCTL_JOB_ID {value!r}: ids are whole numbers") from None
    epoch = env.get("JOBCTL_GANG_EPOCH")
    if epoch is not None and not (epoch.isascii() and epoch.isdigit()):
        raise InvalidInput(f"invalid JOBCTL_GANG_EPOCH {epoch!r}: epochs are whole numbers")
    return Owner(job_id=job_id, epoch=None if epoch is None else int(epoch))


def get(store: Store, owner: Owner) -> str | None:
    """The last saved checkpoint (None if none)."""
    if owner.once is not None:
        return store.once.get(owner.once).checkpoint
    assert owner.job_id is not None
    return store.jobs.get(owner.job_id).checkpoint


def save(store: Store, owner: Owner, value: str) -> None:
    """Save `value`; a resumable once-run's or the job's next attempt gets it."""
    if owner.once is not None:
        store.once.set_checkpoint(owner.once, value)
        return
    assert owner.job_id is not None
    store.jobs.set_checkpoint(owner.job_id, value, owner.epoch)
