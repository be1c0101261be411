"""SpecBuilder (a batch's build_spec with its shared options resolved once) gives the specs
and the errors build_spec gives; spec_of builds the JobSpec JobSpec(...) builds."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from jobctl.config.check import load_config
from jobctl.config.model import Config
from jobctl.config.resolve import EnqueueOptions, SpecBuilder, build_spec
from jobctl.domain.job import JobSpec, spec_of
from jobctl.domain.retry import Backoff, RetryPolicy
from jobctl.domain.values import at_once, field_names
from jobctl.errors import InvalidInput
from jobctl.ops.bulk import read_bulk

CONFIG = """\
job_types:
  - {name: mail, command: [/bin/mail, -s], queue: critical, timeout: 30s, user: mailer}
  - {name: resize, handler: "myapp.jobs:resize", on_tag: gpu}
  - {name: there, command: [x], cwd: /tmp}
queues:
  - name: critical
    retry_policy: {max_attempts: 7, backoff: linear}
  - name: limited
    concurrency: 2
  - {name: placed, on_node: n1}
strict_queues: true
"""

AT = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    return load_config(path)


def _good(tmp_path: Path) -> list[EnqueueOptions]:
    """Option sets of every kind, each shared set (queue, type, retry...) seen more than
    once, with the jobs' own fields differing."""
    (tmp_path / "sub").mkdir(exist_ok=True)
    here = str(tmp_path)
    out = []
    for i in range(3):
        out += [
            EnqueueOptions(command=["true", str(i)], enqueued_from=here),
            EnqueueOptions(command=["echo é"], shell=True, payload={"i": i}, name=f"n{i}"),
            EnqueueOptions(command=["x"], priority=i - 1, run_at=AT, key=f"k{i}", tenant="t"),
            EnqueueOptions(command=["x"], depends_on=(3, 1, 3), env={"A": str(i)}),
            EnqueueOptions(command=["x"], queue="critical", max_attempts=2 + i % 2),
            EnqueueOptions(command=["x"], backoff=Backoff.FIXED, backoff_base=1.0, backoff_max=9),
            EnqueueOptions(command=["x"], timeout=5.0, ordering_key="o", request_id=f"r{i}"),
            EnqueueOptions(job_type="mail", payload={"to": i}),
            EnqueueOptions(job_type="mail", queue="default", user="root", timeout=1),
            EnqueueOptions(job_type="resize", payload={"w": i}),
            EnqueueOptions(job_type="resize", on_node="n2"),
            EnqueueOptions(job_type="there", enqueued_from=here),
            EnqueueOptions(command=["x"], cwd="sub", enqueued_from=here),
            EnqueueOptions(command=["x"], queue="placed", gang=2 + i),
            EnqueueOptions(command=["x"], on_tag="big", schedule="s", nominal_at=AT),
        ]
    return out


def test_a_batch_gets_the_specs_build_spec_gives(config: Config, tmp_path: Path) -> None:
    options = _good(tmp_path)
    build = SpecBuilder(config)
    for o in options:
        got, expected = build(o), build_spec(o, config)
        assert got == expected
        assert vars(got) == vars(expected), o  # every field, none from the class defaults
        assert {k: type(v) for k, v in vars(got).items()} == {
            k: type(v) for k, v in vars(expected).items()
        }
    # A job's own mutable fields are its own
    first, second = build(options[0]), build(options[0])
    assert first.command is not second.command and first.env is not second.env


# (a good option set, a bad one sharing its job type, queue and shared options): the bad
# one reaches the builder after its shared options passed, so only its own checks remain
BAD_AFTER_GOOD = [
    (EnqueueOptions(command=["x"]), EnqueueOptions(command=[])),
    (EnqueueOptions(command=["x"]), EnqueueOptions(command=["  ", ""])),
    (EnqueueOptions(command=["x"]), EnqueueOptions(command=["a", "b"], shell=True)),
    (EnqueueOptions(command=["x"]), EnqueueOptions(command=["x"], priority=2**31)),
    (EnqueueOptions(command=["x"]), EnqueueOptions(command=["x"], env={"A=B": "1"})),
    (EnqueueOptions(command=["x"]), EnqueueOptions(command=["x"], env={"": "1"})),
    (EnqueueOptions(command=["x"]), EnqueueOptions(command=["x"], payload=[1, 2])),
    (EnqueueOptions(job_type="mail"), EnqueueOptions(job_type="mail", command=["x"])),
    # two problems: the first build_spec meets is the one named
    (EnqueueOptions(command=["x"]), EnqueueOptions(command=[], priority=-(2**40))),
    (EnqueueOptions(command=["x"]), EnqueueOptions(command=["x"], priority=2**31, env={"": ""})),
    (EnqueueOptions(command=["x"]), EnqueueOptions(command=["x"], env={"=": ""}, payload="s")),
]

# bad shared options: the builder has not seen them pass, build_spec judges them
BAD_SHARED = [
    EnqueueOptions(command=["x"], queue="nowhere"),
    EnqueueOptions(command=["x"], queue="no way"),
    EnqueueOptions(job_type="nope"),
    EnqueueOptions(command=["x"], max_attempts=0),
    EnqueueOptions(command=["x"], timeout=-1),
    EnqueueOptions(command=["x"], gang=0),
    EnqueueOptions(job_type="resize", gang=2),
    EnqueueOptions(command=["x"], gang=2, ordering_key="o"),
    EnqueueOptions(command=["x"], queue="limited", gang=2),
    EnqueueOptions(command=["x"], on_node="bad node!"),
    EnqueueOptions(command=["x"], cwd="nope", enqueued_from="/"),
    EnqueueOptions(command=[], queue="nowhere"),  # build_spec's order: the command first
    EnqueueOptions(command=["x"], queue=["unhashable"]),  # type: ignore[arg-type]
    EnqueueOptions(command=["x"], on_tag=["unhashable"]),  # type: ignore[arg-type]
]


def _error(fn: Any) -> str:
    with pytest.raises(InvalidInput) as caught:
        fn()
    return str(caught.value)


@pytest.mark.parametrize("good,bad", BAD_AFTER_GOOD)
def test_a_bad_job_after_a_good_one_gets_build_specs_error(
    config: Config, good: EnqueueOptions, bad: EnqueueOptions
) -> None:
    build = SpecBuilder(config)
    build(good)
    assert _error(lambda: build(bad)) == _error(lambda: build_spec(bad, config))


@pytest.mark.parametrize("bad", BAD_SHARED)
def test_bad_shared_options_get_build_specs_error(config: Config, bad: EnqueueOptions) -> None:
    build = SpecBuilder(config)
    build(EnqueueOptions(command=["x"]))
    expected = _error(lambda: build_spec(bad, config))
    assert _error(lambda: build(bad)) == expected
    assert _error(lambda: build(bad)) == expected, "a refused set is not remembered as good"


def test_a_builder_that_forgot_resolves_again(config: Config) -> None:
    build = SpecBuilder(config)
    options = [EnqueueOptions(command=["x"], max_attempts=n) for n in range(1, 2100)]
    assert [build(o) for o in options] == [build_spec(o, config) for o in options]
    assert [build(o) for o in options[:5]] == [build_spec(o, config) for o in options[:5]]


def test_spec_of_builds_what_the_dataclass_builds() -> None:
    values: dict[str, Any] = dict.fromkeys(field_names(JobSpec))
    values.update(
        command=["x"], queue="q", priority=3, retry=RetryPolicy(max_attempts=2), env={"A": "1"}
    )
    values.update(depends_on=(1,), run_at=AT)
    built, expected = spec_of(values), JobSpec(**values)
    assert built == expected and vars(built) == vars(expected) and type(built) is JobSpec
    assert hash(built.retry) == hash(expected.retry)
    with pytest.raises(AttributeError):
        built.queue = "other"  # type: ignore[misc]


def test_at_once_runs_the_init_of_a_class_that_checks_itself() -> None:
    with pytest.raises(InvalidInput, match="invalid max attempts 0"):
        at_once(RetryPolicy, {"max_attempts": 0, "backoff": Backoff.FIXED, "base": 1.0,
                              "max": 2.0, "jitter": RetryPolicy().jitter})  # fmt: skip
    assert at_once(EnqueueOptions, vars(EnqueueOptions(command=["x"]))) == EnqueueOptions(
        command=["x"]
    )


def test_bulk_lines_carry_the_enqueues_request_id(tmp_path: Path) -> None:
    from dataclasses import replace

    lines = [
        '{"command": ["true"]}',
        '{"command": "echo hi", "queue": "q", "priority": 3, "env": {"A": 1}, "cwd": "."}',
        '{"type": "t", "payload": {"a": 1}, "in": "5m", "after": 4, "backoff": "fixed"}',
    ]
    src = tmp_path / "jobs.jsonl"
    src.write_text("\n".join(lines) + "\n")
    plain = read_bulk(str(src), AT, str(tmp_path))
    tagged = read_bulk(str(src), AT, str(tmp_path), "req-1")
    assert tagged == [replace(o, request_id="req-1") for o in plain]
    assert [field_names(EnqueueOptions) == set(vars(o)) for o in tagged] == [True] * 3
