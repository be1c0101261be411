"""Row -> Job: the layout-cached builder gives the Job the field-by-field mapping gives."""

from __future__ import annotations

from typing import Any

import pytest

from jobctl.domain.durations import from_epoch
from jobctl.domain.job import JobSpec, State
from jobctl.domain.job_record import Job
from jobctl.domain.retry import Backoff, Jitter, RetryPolicy
from jobctl.store.records import (
    SPEC_COLUMNS,
    argv_text,
    dumps,
    job_from_row,
    jobs_from_rows,
    loads,
    spec_values,
)


class BackendRow:
    """What the backends' rows are (sqlite3.Row, PgRow): keys(), and iteration over the
    values in the keys' order."""

    def __init__(self, row: dict[str, Any]) -> None:
        self._row = row

    def keys(self) -> list[str]:
        return list(self._row)

    def __iter__(self) -> Any:
        return iter(self._row.values())

    def __getitem__(self, key: str) -> Any:
        return self._row[key]


def reference(row: dict[str, Any], depends_on: tuple[int, ...] = ()) -> Job:
    """The mapping written out field by field (as records.py had it)."""
    return Job(
        id=row["id"], queue=row["queue"], state=State(row["state"]),
        created_at=from_epoch(row["created_at"]), run_at=from_epoch(row["run_at"]),
        command=loads(row["command"]), job_type=row["job_type"], handler=row["handler"],
        payload=loads(row["payload"]), name=row["name"], priority=row["priority"],
        attempts=row["attempts"], budget_start=row["budget_start"],
        retry=RetryPolicy(
            max_attempts=row["max_attempts"], backoff=Backoff(row["backoff"]),
            base=row["backoff_base"], max=row["backoff_max"], jitter=Jitter(row["jitter"]),
        ),
        timeout=row["timeout"], started_at=from_epoch(row["started_at"]),
        finished_at=from_epoch(row["finished_at"]), exit_code=row["exit_code"],
        signal=row["signal"], failure_class=row["failure_class"], error=row["error"],
        key=row["key"], ordering_key=row["ordering_key"], tenant=row["tenant"],
        depends_on=depends_on, retry_after=from_epoch(row["retry_after"]),
        dlq_id=row["dlq_id"], env=loads(row["env"]) or {}, cwd=row["cwd"],
        user=row["run_user"], group=row["run_group"], schedule=row["schedule"],
        nominal_at=from_epoch(row["nominal_at"]), lease_owner=row["lease_owner"],
        lease_expires_at=from_epoch(row["lease_expires_at"]),
        cancel_requested=bool(row["cancel_requested"]), checkpoint=row["checkpoint"],
        output_tail=row["output_tail"], request_id=row["request_id"],
        on_node=row["on_node"], on_tag=row["on_tag"], gang_id=row["gang_id"],
        gang_rank=row["gang_rank"], gang_size=row["gang_size"],
    )  # fmt: skip


QUEUED = {
    "id": 7, "queue": "default", "state": "queued", "created_at": 1700000000.5,
    "run_at": 1700000000.5, "command": '["echo","hi"]', "job_type": None, "handler": None,
    "payload": None, "name": None, "priority": 0, "attempts": 0, "budget_start": 0,
    "max_attempts": 5, "backoff": "exponential", "backoff_base": 10.0, "backoff_max": 3600.0,
    "jitter": "full", "timeout": None, "started_at": None, "finished_at": None,
    "exit_code": None, "signal": None, "failure_class": None, "error": None, "key": None,
    "ordering_key": None, "tenant": None, "retry_after": None, "dlq_id": None, "env": None,
    "cwd": "/", "run_user": None, "run_group": None, "schedule": None, "nominal_at": None,
    "lease_owner": None, "lease_expires_at": None, "cancel_requested": 0, "checkpoint": None,
    "output_tail": None, "request_id": None, "on_node": None, "on_tag": None,
    "has_dependants": 0, "gang_id": None, "gang_rank": None, "gang_size": None,
}  # fmt: skip
RUNNING = QUEUED | {
    "id": 8, "state": "running", "command": None, "job_type": "mail", "handler": "m:send",
    "payload": '{"to":["a","b"],"n":1}', "name": "nightly", "priority": -3, "attempts": 2,
    "budget_start": 1, "max_attempts": 9, "backoff": "linear", "backoff_base": 0.5,
    "backoff_max": 60.0, "jitter": "none", "timeout": 12.5, "started_at": 1700000100.25,
    "key": "k", "ordering_key": "o", "tenant": "t", "env": '{"A":"1"}', "cwd": "/tmp",
    "run_user": "nobody", "run_group": "nogroup", "schedule": "s", "nominal_at": 1700000000.0,
    "lease_owner": "node:1:ab", "lease_expires_at": 1700000130.25, "cancel_requested": 1,
    "checkpoint": "c", "request_id": "r", "on_node": "n1", "on_tag": "gpu", "gang_id": 6,
    "gang_rank": 2, "gang_size": 4,
}  # fmt: skip
DEAD = QUEUED | {
    "id": 9, "state": "dead", "finished_at": 1700000200.0, "exit_code": 3, "signal": None,
    "failure_class": "exit", "error": "exit 3", "retry_after": 1700000300.0, "dlq_id": 4,
    "output_tail": "boom",
}  # fmt: skip


@pytest.mark.parametrize("row", [QUEUED, RUNNING, DEAD], ids=["queued", "running", "dead"])
def test_every_field_as_the_field_by_field_mapping(row: dict[str, Any]) -> None:
    assert job_from_row(BackendRow(row), (1, 2)) == reference(row, (1, 2))
    assert job_from_row(row) == reference(row)  # a dict row too


def test_column_order_and_extra_columns_do_not_matter() -> None:
    shuffled = dict(reversed(list(RUNNING.items()))) | {"attempt_pid": 42}
    assert job_from_row(BackendRow(shuffled)) == reference(RUNNING)
    rows = [BackendRow(r) for r in (QUEUED, RUNNING, DEAD)]
    assert jobs_from_rows(rows) == [reference(r) for r in (QUEUED, RUNNING, DEAD)]


def test_jobs_share_nothing_mutable() -> None:
    a, b = job_from_row(BackendRow(RUNNING)), job_from_row(BackendRow(RUNNING))
    assert a.env == b.env and a.env is not b.env
    assert a.payload is not b.payload
    no_env = job_from_row(BackendRow(QUEUED))
    assert no_env.env == {} and no_env.env is not job_from_row(BackendRow(QUEUED)).env


def test_a_missing_column_fails_loudly() -> None:
    row = {k: v for k, v in QUEUED.items() if k != "queue"}
    with pytest.raises(KeyError):
        job_from_row(BackendRow(row))


@pytest.mark.parametrize(
    "argv",
    [
        ["true"],
        [],
        ["a b", "é", '"q"', "back\\slash", "\x00\x1f\u2028", "😀", "/bin/sh", "-c", "x | y"],
        ("tuple", "argv"),
        ["a", 1, None],  # not all strings: what the encoder makes of it
    ],
)
def test_argv_text_is_the_json_dumps_writes(argv: Any) -> None:
    assert argv_text(argv) == dumps(argv)
    assert loads(argv_text(argv)) == list(argv)


def test_argv_text_refuses_what_dumps_refuses() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        argv_text(["a", object()])


def test_spec_values_write_the_retry_policys_values() -> None:
    retry = RetryPolicy(max_attempts=3, backoff=Backoff.LINEAR, base=2.0, max=8.0)
    values = spec_values(JobSpec(command=["x"], retry=retry), 1.0)
    row = dict(zip(SPEC_COLUMNS, values, strict=True))
    assert (row["backoff"], row["jitter"], row["command"]) == ("linear", "full", '["x"]')
