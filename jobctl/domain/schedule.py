"""Schedules as values and the pure decisions about their fires: misfire and overlap."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from jobctl.errors import InvalidInput

MISFIRE_GRACE = timedelta(seconds=60)  # default: a fire handled later than this was missed
MISFIRE_CAP = 100  # `misfire: all` runs at most this many missed fires


class Overlap(StrEnum):
    FORBID = "forbid"  # skip the fire (recorded) while the previous run is live
    ALLOW = "allow"
    REPLACE = "replace"  # cancel the live run, then start the new one


class Misfire(StrEnum):
    SKIP = "skip"
    ONCE = "once"  # one catch-up run for all fires missed while no daemon was up
    ALL = "all"  # every missed fire runs (capped)


class Outcome(StrEnum):
    """What became of one nominal fire (the missed-run ledger's reasons, plus success)."""

    ENQUEUED = "enqueued"
    SHADOW = "shadow"
    OVERLAP = "overlap"
    PAUSED = "paused"
    NO_DAEMON = "no_daemon"
    DST_SKIP = "dst_skip"
    DISABLED = "disabled"  # config `enabled: false`
    AUTO_PAUSED = "auto_paused"  # paused by `pause_after` consecutive failures
    NO_NODE = "no_node"  # `--on-every-node`: no live, non-draining node matched


def parse_choice(enum: type[StrEnum], value: str, option: str) -> Any:
    try:
        return enum(value)
    except ValueError:
        choices = "|".join(m.value for m in enum)
        raise InvalidInput(f"invalid {option} {value!r}: use {choices}") from None


@dataclass(frozen=True)
class Schedule:
    name: str
    cron: str
    tz: str
    queue: str = "default"
    command: list[str] | None = None
    job_type: str | None = None
    payload: Any = None
    env: dict[str, str] = field(default_factory=dict)
    stdin: str | None = None
    enabled: bool = True
    shadow: bool | None = None  # None: not set by the schedule, config shadow_mode decides
    overlap: Overlap = Overlap.FORBID
    misfire: Misfire = Misfire.ONCE
    jitter: float = 0.0
    dst_gap: str = "run"
    dst_repeat: str = "once"
    timeout: float | None = None
    max_attempts: int | None = None
    origin: str = "cli"  # cli | config | import
    user: str | None = (
        None  # its jobs run as this user (as a job type's `user:`); None: the daemon's
    )
    source: str | None = None
    on_node: str | None = None  # placement of its jobs (else the job type's / queue's)
    on_tag: str | None = None
    on_every_node: bool = False  # one job per live matching node per fire (with on_tag: tagged)
    stagger: float | None = None  # seconds: those jobs' starts spread evenly over it
    owner: str | None = None  # notification routing (SPEC "Notifications")
    severity: str | None = None
    ping: str | None = None  # healthchecks.io-style ping URL (/start, success, /fail)
    max_runtime: float | None = None  # seconds: a run still going after this is too_long
    min_runtime: float | None = None  # seconds: a success faster than this is too_short
    deadline: str | None = None  # HH:MM in `tz`: the day's run must have finished by then
    pause_after: int | None = None  # consecutive failed runs that pause the schedule
    paused_reason: str | None = None  # why it was paused automatically (None: not auto-paused)
    mailto: str | None = None  # cron's MAILTO: mail these addresses output and failures
    created_at: datetime | None = None
    updated_at: datetime | None = None
    cursor_at: datetime | None = None  # fires up to here are handled

    def is_shadow(self, shadow_mode: bool) -> bool:
        """Whether its fires are only recorded: its own `shadow` when set (`--shadow`,
        `promote`, import), else the config's `shadow_mode.enabled`."""
        return shadow_mode if self.shadow is None else self.shadow


@dataclass(frozen=True)
class NodeRun:
    """One node's job of an `--on-every-node` fire: placed on `node`, due at `run_at`."""

    node: str
    run_at: datetime


@dataclass(frozen=True)
class FireDecision:
    nominal_at: datetime
    outcome: Outcome
    run_at: datetime | None = None  # when enqueued: the fire time plus jitter
    nodes: tuple[NodeRun, ...] = ()  # `--on-every-node`: one job per node (else one job)
    skipped_nodes: tuple[str, ...] = ()  # `--on-every-node`, overlap forbid: still running


def every_node_fire(
    nominal_at: datetime,
    start: datetime,
    nodes: Sequence[str],
    stagger: float | None,
    overlap: Overlap,
    busy: Collection[str | None] = (),
) -> FireDecision:
    """One fire of an `--on-every-node` schedule: a job per node of `nodes`, spread over
    `stagger` from `start` (spread_over_nodes). Overlap applies per node: with `forbid`, a
    node in `busy` (its previous job has not ended) gets none this time. `no_node` when no
    node matched, `overlap` when every node was skipped."""
    runs = spread_over_nodes(nodes, start, stagger)
    if not runs:
        return FireDecision(nominal_at, Outcome.NO_NODE)
    skipped = tuple(r.node for r in runs if overlap is Overlap.FORBID and r.node in busy)
    kept = tuple(r for r in runs if r.node not in skipped)
    if not kept:
        return FireDecision(nominal_at, Outcome.OVERLAP, skipped_nodes=skipped)
    return FireDecision(nominal_at, Outcome.ENQUEUED, start, kept, skipped)


def spread_over_nodes(
    nodes: Sequence[str], start: datetime, stagger: float | None
) -> list[NodeRun]:
    """The jobs of one `--on-every-node` fire: node i of k (sorted by name) due at
    start + i*stagger/k, so the k starts spread evenly over the stagger, the same on every
    daemon."""
    names = sorted(set(nodes))
    step = (stagger or 0.0) / len(names) if names else 0.0
    return [NodeRun(n, start + timedelta(seconds=i * step)) for i, n in enumerate(names)]


def plan_missed(nominal: list[datetime], policy: Misfire) -> list[tuple[datetime, bool]]:
    """Fires missed while no daemon ran → (nominal, run it?) by the misfire policy."""
    if policy is Misfire.SKIP or not nominal:
        return [(n, False) for n in nominal]
    if policy is Misfire.ONCE:
        return [(n, n == nominal[-1]) for n in nominal]
    keep = set(nominal[-MISFIRE_CAP:])
    return [(n, n in keep) for n in nominal]


def missed_fires(
    fires: Sequence[datetime], now: datetime, grace: timedelta = MISFIRE_GRACE
) -> list[datetime]:
    """The consecutive `fires` (increasing, all due by `now`) handled too late: more than
    `grace` after their time, or once the next fire was due too. The grace never exceeds the
    schedule's own interval: a per-second schedule's fires are missed after a second, not 60."""
    missed = []
    for index, at in enumerate(fires):
        interval = fires[index + 1] - at if index + 1 < len(fires) else grace
        if now - at > min(grace, interval):
            missed.append(at)
    return missed


def shadow_sampled(name: str, nominal_at: datetime, percent: int) -> bool:
    """Whether a shadow fire is recorded under `shadow_mode.sampling_percent`: a stable choice
    by schedule and nominal time (the same on every daemon and every run)."""
    if percent >= 100:
        return True
    key = f"{name}\0{nominal_at.timestamp():.6f}".encode()
    digest = hashlib.blake2b(key, digest_size=8).digest()
    return int.from_bytes(digest, "big") % 100 < percent
