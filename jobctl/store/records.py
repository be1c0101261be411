"""Row ↔ domain conversion shared by the store backends."""

from __future__ import annotations

import copy
import functools
import json
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, dataclass, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jobctl.domain.durations import from_epoch
from jobctl.domain.job import JobSpec, State
from jobctl.domain.retry import Backoff, Jitter, RetryPolicy

if TYPE_CHECKING:
    from jobctl.domain.job_record import Attempt, Job


def epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


_ENCODE = json.JSONEncoder(separators=(",", ":")).encode  # json.dumps builds one per call


def dumps(value: Any) -> str | None:
    return None if value is None else _ENCODE(value)


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


SPEC_COLUMNS = (
    "queue",
    "name",
    "command",
    "job_type",
    "handler",
    "payload",
    "priority",
    "run_at",
    "created_at",
    "max_attempts",
    "backoff",
    "backoff_base",
    "backoff_max",
    "jitter",
    "timeout",
    "key",
    "ordering_key",
    "tenant",
    "env",
    "cwd",
    "run_user",
    "run_group",
    "schedule",
    "nominal_at",
    "request_id",
    "on_node",
    "on_tag",
)


def argv_text(argv: list[str]) -> str:
    """`dumps(argv)` of a list of strings, with the encoder's string function alone (the
    encoder's Python layers cost 0.6 us a call); anything else, as dumps encodes it."""
    try:
        return "[" + ",".join(map(_STRING, argv)) + "]"
    except TypeError:  # not a list of strings: the encoder's own text (or error)
        return _ENCODE(argv)


_STRING = json.encoder.encode_basestring_ascii  # what _ENCODE writes a string as


def spec_values(spec: JobSpec, now: float) -> tuple[Any, ...]:
    """Column values of a new job in SPEC_COLUMNS order; `now` in epoch seconds."""
    command, payload, retry = spec.command, spec.payload, spec.retry
    return (
        spec.queue,
        spec.name,
        None if command is None else argv_text(command),
        spec.job_type,
        spec.handler,
        None if payload is None else _ENCODE(payload),
        spec.priority,
        now if spec.run_at is None else spec.run_at.timestamp(),
        now,
        retry.max_attempts,
        retry.backoff._value_,  # .value is a descriptor of the enum class: 0.3 us a read
        retry.base,
        retry.max,
        retry.jitter._value_,
        spec.timeout,
        spec.key,
        spec.ordering_key,
        spec.tenant,
        _ENCODE(spec.env) if spec.env else None,
        spec.cwd,
        spec.user,
        spec.group,
        spec.schedule,
        None if spec.nominal_at is None else spec.nominal_at.timestamp(),
        spec.request_id,
        spec.on_node,
        spec.on_tag,
    )


def spec_row(spec: JobSpec, now: datetime) -> dict[str, Any]:
    """Column values for a new job from its spec (state decided by the caller)."""
    return dict(zip(SPEC_COLUMNS, spec_values(spec, now.timestamp()), strict=True))


def job_from_row(row: Mapping[str, Any], depends_on: tuple[int, ...] = ()) -> Job:
    """The Job a `jobs` row holds (any column order; extra columns, e.g. of a join, are
    ignored). `row`: a backend's row (sqlite3.Row, PgRow: iterating its values) or a dict."""
    keys = tuple(row.keys())
    layout = _LAYOUTS.get(keys) or _layout(keys)
    return layout(_values(row), depends_on)


def jobs_from_rows(rows: Sequence[Mapping[str, Any]]) -> list[Job]:
    """job_from_row of rows sharing one statement's columns (the column layout is looked
    up once)."""
    if not rows:
        return []
    keys = tuple(rows[0].keys())
    layout = _LAYOUTS.get(keys) or _layout(keys)
    return [layout(_values(r), ()) for r in rows]


def _values(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """A row's values in its keys' order (a backend row iterates its values, a dict its
    keys)."""
    return tuple(row.values()) if isinstance(row, dict) else tuple(row)


# Job fields read from a column of another name, or converted from what the store keeps
# (epoch seconds, JSON text, enum values); every other field is the column of its name.
_COLUMN_OF = {"user": "run_user", "group": "run_group"}
_EPOCHS = (
    "created_at",
    "run_at",
    "started_at",
    "finished_at",
    "retry_after",
    "nominal_at",
    "lease_expires_at",
)
_RETRY_COLUMNS = ("max_attempts", "backoff", "backoff_base", "backoff_max", "jitter")
_Build = Callable[[tuple[Any, ...], tuple[int, ...]], "Job"]
_LAYOUTS: dict[tuple[str, ...], _Build] = {}
_POLICIES: dict[tuple[Any, ...], RetryPolicy] = {}  # equal rows share one (frozen) policy


def _retry(values: tuple[Any, ...]) -> RetryPolicy:
    policy = _POLICIES.get(values)
    if policy is None:
        ma, backoff, base, top, jitter = values
        policy = RetryPolicy(
            max_attempts=ma, backoff=Backoff(backoff), base=base, max=top, jitter=Jitter(jitter)
        )
        if len(_POLICIES) >= 256:
            _POLICIES.clear()
        _POLICIES[values] = policy
    return policy


def _env(text: str | None) -> dict[str, str]:
    return loads(text) or {}


def _layout(keys: tuple[str, ...]) -> _Build:
    """A builder of Jobs from rows with these columns: which position holds each field,
    and how its value is converted. A field without a column keeps its default."""
    from jobctl.domain.job_record import Job  # off the enqueue path

    at = {name: i for i, name in enumerate(keys)}
    convert: dict[str, Callable[[Any], Any]] = dict.fromkeys(_EPOCHS, from_epoch)
    states = {s.value: s for s in State}
    convert.update(state=states.__getitem__, command=loads, payload=loads, env=_env)
    convert["cancel_requested"] = bool
    plain: list[tuple[str, int]] = []
    converted: list[tuple[str, int, Callable[[Any], Any]]] = []
    defaults: dict[str, Callable[[], Any]] = {}
    for f in fields(Job):
        if f.name in ("retry", "depends_on"):
            continue
        index = at.get(_COLUMN_OF.get(f.name, f.name))
        if index is None:
            if f.default_factory is not MISSING:
                defaults[f.name] = f.default_factory
            elif f.default is not MISSING:
                defaults[f.name] = functools.partial(copy.copy, f.default)
            else:
                raise KeyError(f"no column for the job's {f.name}")
        elif f.name in convert:
            converted.append((f.name, index, convert[f.name]))
        else:
            plain.append((f.name, index))
    retry_at = operator.itemgetter(*(at[c] for c in _RETRY_COLUMNS))
    # A frozen dataclass's __init__ sets each of its ~45 fields through object.__setattr__;
    # filling the instance's __dict__ at once gives the same object (Job has no
    # __post_init__ or slots to run).
    direct = not hasattr(Job, "__post_init__") and not hasattr(Job, "__slots__")

    def build(values: tuple[Any, ...], depends_on: tuple[int, ...]) -> Job:
        kw = {name: values[i] for name, i in plain}
        for name, i, conv in converted:
            kw[name] = conv(values[i])
        kw["retry"] = _retry(retry_at(values))
        kw["depends_on"] = depends_on
        for name, make in defaults.items():
            kw[name] = make()
        if not direct:
            return Job(**kw)
        job = object.__new__(Job)
        job.__dict__.update(kw)
        return job

    _LAYOUTS[keys] = build
    return build


def attempt_from_row(row: Mapping[str, Any]) -> Attempt:
    from jobctl.domain.job_record import Attempt

    return Attempt(
        job_id=row["job_id"],
        attempt=row["attempt"],
        node=row["node"],
        started_at=from_epoch(row["started_at"]),
        finished_at=from_epoch(row["finished_at"]),
        exit_code=row["exit_code"],
        signal=row["signal"],
        failure_class=row["failure_class"],
        duration=row["duration"],
        max_rss=row["max_rss"],
        cpu_seconds=row["cpu_seconds"],
        pid=row["pid"],
        log_path=row["log_path"],
    )


@dataclass(frozen=True)
class ServerFigures:
    """A database server's own health figures (PostgreSQL), for `health`."""

    dead_tuple_ratio: float  # dead / (live + dead) tuples of the jobs table
    dead_tuples: int
    oldest_xact: float  # seconds the oldest open transaction on the database has been open
