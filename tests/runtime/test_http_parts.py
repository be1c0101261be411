"""HTTP API parts without a daemon: listen addresses, the enqueue body, the status page,
the OpenAPI document and the DB-derived metrics (real SQLite files, real registries)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from jobctl.client import Client
from jobctl.config.model import Config, JobType
from jobctl.domain.audit import Actor
from jobctl.domain.failure import Decision
from jobctl.domain.job import FailureClass, JobSpec, State
from jobctl.domain.listen import parse_listen
from jobctl.domain.retry import RetryPolicy
from jobctl.errors import InvalidInput
from jobctl.runtime.http import jobs_api, metrics, openapi, status_page
from jobctl.store.repos.dispatch import Finish
from tests.support.factories import claim, job_spec

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:8765", ("127.0.0.1", 8765)),
        (":8765", ("127.0.0.1", 8765)),
        ("8765", ("127.0.0.1", 8765)),
        ("0", ("127.0.0.1", 0)),
        ("0.0.0.0:80", ("0.0.0.0", 80)),
        ("[::1]:9000", ("::1", 9000)),
    ],
)
def test_listen_addresses(text: str, expected: tuple[str, int]) -> None:
    assert parse_listen(text) == expected


@pytest.mark.parametrize("text", ["", "host:", "host:port", "1:70000", ":-1", "1:²", ":٨٠"])
def test_bad_listen_addresses(text: str) -> None:
    with pytest.raises(InvalidInput, match="--http"):
        parse_listen(text)


def test_body_accepts_job_class_as_an_alias_and_reads_run_at() -> None:
    opts = jobs_api.options_from_body(
        {"job_class": "send", "payload": {"a": 1}, "run_at": "2030-01-02T00:00:00Z"}, NOW, "r1"
    )
    assert (opts.job_type, opts.payload, opts.request_id) == ("send", {"a": 1}, "r1")
    assert opts.run_at == datetime(2030, 1, 2, tzinfo=UTC)
    relative = jobs_api.options_from_body({"job_type": "send", "run_at": "+5m"}, NOW, "r2")
    assert relative.run_at == NOW + timedelta(minutes=5) and relative.payload == {}


def test_a_job_enqueued_over_http_runs_in_its_job_types_cwd_else_in_root(
    client: Client, tmp_path: Path
) -> None:
    # The daemon's directory (this test's) is never where an HTTP job runs
    config = Config(
        job_types=(
            JobType("plain", command=["./run.sh"]),
            JobType("placed", command=["./run.sh"], cwd=str(tmp_path)),
        )
    )
    actor = Actor("token:deploy", None, "web1")
    for name, where in (("plain", "/"), ("placed", str(tmp_path))):
        body = {"job_type": name}
        _created, shape = jobs_api.enqueue(
            client.store, client.group_commit, config, body, NOW, "r", actor
        )
        assert client.get(shape["id"]).cwd == where


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"job_type": "s", "payload": "text"}, "payload"),
        ({"job_type": "s", "run_at": "9999-12-31T23:59:59-14:00"}, "run_at"),
        ({"job_type": "s", "priority": True}, "priority"),
        ({"job_type": "s", "queue": ""}, "queue"),
        ({"job_type": 3}, "job_type"),
        ({"job_type": "s", "command": ["rm", "-rf", "/"]}, "command"),
    ],
)
def test_bad_bodies_name_the_field(body: dict, needle: str) -> None:
    with pytest.raises(InvalidInput, match=needle):
        jobs_api.options_from_body(body, NOW, "r")


@pytest.mark.parametrize("raw", [b"{", b"[]", b'"x"', b"\xff", b"Infinity"])
def test_malformed_bodies(raw: bytes) -> None:
    with pytest.raises(jobs_api.MalformedBody):
        jobs_api.parse_body(raw)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", 1),
        ("0", None),
        ("-1", None),
        ("x", None),
        ("9" * 25, None),
        (str(2**63), None),
        ("²", None),  # str.isdigit says yes, int() says no: was a 500
        ("١٢", None),  # Arabic-Indic digits: int() reads 12
        (" 1", None),
        ("1_0", None),
    ],
)
def test_job_ids_in_paths(text: str, expected: int | None) -> None:
    assert jobs_api.job_id_from(text) == expected


@pytest.mark.parametrize("queue", ["a b", "x" * 65, "<script>", "q\n", "ä"])
def test_http_refuses_a_queue_name_outside_the_rule_without_configured_queues(
    db_path: Path, queue: str
) -> None:
    config = Config(job_types=(JobType("send", command=["true"]),))
    actor = Actor(name="token:t", uid=None, host="h")
    with Client(db_path, config) as client:
        with pytest.raises(InvalidInput, match="invalid queue name"):
            jobs_api.enqueue(
                client.store,
                client.group_commit,
                config,
                {"job_type": "send", "queue": queue},
                NOW,
                "r",
                actor,
            )
        created, job = jobs_api.enqueue(
            client.store,
            client.group_commit,
            config,
            {"job_type": "send", "queue": "eu-1.mail:hi"},
            NOW,
            "r",
            actor,
        )
        assert created and job["queue"] == "eu-1.mail:hi"
        assert [j.queue for j in client.list()] == ["eu-1.mail:hi"], "nothing else written"


def test_status_page_escapes_and_shows_the_figures(db_path: Path) -> None:
    config = Config(job_types=(JobType("x", command=["true"]),))
    with Client(db_path, config) as client:  # a name from before the queue-name rule
        client.store.jobs.enqueue([JobSpec(["true"], queue="<script>alert(1)</script>")], NOW)
        client.store.queues.set_paused("<script>alert(1)</script>", True, NOW)
        rows = status_page.queue_rows(client.store, config, NOW)
        page = status_page.render(rows, [], [], NOW)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    for text in ("Queue", "Lag", "Failures (24h)", 'name="viewport"', 'http-equiv="refresh"'):
        assert text in page
    assert "No dead jobs." in page


RUN_AT_CASES = [
    ("", False),
    (" ", False),
    ("tomorrowish", False),
    ("5m", False),
    ("+", False),
    ("+5x", False),
    (" +5m", False),
    ("2030-13-01", False),
    ("2030-01-02T24:00", False),
    ("0000-01-01", False),
    ("2030-01-02+02:00", False),
    ("\uff12\uff10\uff13\uff10-01-02", False),  # fullwidth digits
    ("2030-01-02\n", False),
    ("2030-01-02", True),
    ("2030-01-02T03:04", True),
    ("2030-01-02t03:04:05z", True),
    ("2030-01-02 03:04:05.123+02:00", True),
    ("2030-01-02T03:04:05-0500", True),
    ("2030-01-02T03:04+02", True),
    ("+5m", True),
    ("+1h30m", True),
    ("+90", True),
    ("+1.5h", True),
]


@pytest.mark.parametrize(("text", "valid"), RUN_AT_CASES)
def test_the_schema_of_run_at_accepts_exactly_what_the_handler_accepts(
    text: str, valid: bool
) -> None:
    jsonschema_rs = pytest.importorskip("jsonschema_rs", reason="comes with schemathesis")
    schema = dict(openapi.document()["components"]["schemas"]["EnqueueRequest"])
    schema["properties"] = {**schema["properties"], "run_at": {**schema["properties"]["run_at"]}}
    del schema["properties"]["run_at"]["nullable"]  # OpenAPI 3.0, not JSON Schema
    body = {"job_type": "s", "run_at": text}
    assert jsonschema_rs.validator_for(schema).is_valid(body) == valid
    try:
        jobs_api.options_from_body(body, NOW, "r")
        accepted = True
    except InvalidInput as exc:
        accepted = False
        assert "run_at" in str(exc)
    assert accepted == valid


def _die(client: Client, at: datetime, error: str) -> None:
    (job,) = client.store.dispatch.claim(claim(), at)
    decision = Decision(State.DEAD, FailureClass.EXIT, to_dlq=True)
    finish = Finish(job.id, job.attempts, "node-a:1:x", decision, exit_code=3, error=error)
    client.store.dispatch.finish([finish], at)


def test_the_status_page_lists_a_job_that_died_twice_once(db_path: Path) -> None:
    config = Config()
    with Client(db_path, config) as client:
        # Given a job that died, was retried and died again, and another dead job
        once = RetryPolicy(max_attempts=1)
        twice = client.store.jobs.enqueue([job_spec(retry=once)], NOW)[0].id
        _die(client, NOW, "first death")
        client.store.jobs.retry([twice], NOW + timedelta(minutes=1))
        _die(client, NOW + timedelta(minutes=2), "second death")
        other = client.store.jobs.enqueue([job_spec(retry=once)], NOW)[0].id
        _die(client, NOW + timedelta(minutes=3), "other death")
        # When the status page is rendered
        page = status_page.page(client.store, config, NOW + timedelta(minutes=4))
    # Then each dead job has one row, showing its latest death
    dead = page.split('<table id="dead">', 1)[1].split("</table>", 1)[0]
    rows = [
        re.search(r'<td class="num">(\d+)</td>', row).group(1) for row in dead.split("<tr>")[2:]
    ]
    assert rows == [str(other), str(twice)]
    assert "second death" in dead and "first death" not in dead


def test_openapi_document_references_resolve() -> None:
    doc = openapi.document()
    schemas = doc["components"]["schemas"]
    text = repr(doc)
    for ref in set(__import__("re").findall(r"#/components/schemas/(\w+)", text)):
        assert ref in schemas, ref
    post = doc["paths"]["/internal/jobs"]["post"]
    assert {"201", "400", "401", "403", "413", "422"} <= set(post["responses"])


def test_db_metrics_and_the_enqueued_counter(db_path: Path, tmp_path: Path) -> None:
    with Client(db_path) as client:
        client.enqueue(["true"])
        registry = CollectorRegistry()
        ticks = iter(range(1000))
        collector = metrics.DbCollector(
            client.store, lambda: client.config, lambda: NOW, lambda: float(next(ticks) * 10)
        )
        registry.register(collector)
        client.enqueue(["true"], queue="bulk")
        client.enqueue(["true"], queue="bulk")
        text = generate_latest(registry).decode()
        assert 'scheduler_enqueued_total{queue="bulk"} 2.0' in text, "only jobs after the start"
        assert 'scheduler_queue_depth{queue="default"} 1.0' in text
        assert 'scheduler_queue_depth{queue="bulk"} 2.0' in text
        out = tmp_path / "jobctl.prom"
        metrics.write_textfile(client.store, client.config, NOW, out)
        assert 'scheduler_queue_depth{queue="bulk"} 2.0' in out.read_text()
        assert not list(tmp_path.glob("jobctl.prom.*")), "no temporary file left behind"


def test_a_daemons_own_series_carry_its_node_and_the_db_gauges_do_not(db_path: Path) -> None:
    # Given the registry of a daemon of node n2 that ran a job, and its DB collector
    registry = metrics.daemon_registry("n2", "host-2", "9.9", ("ssd", "gpu"))
    hook = metrics.MetricsHook(registry, ["default"], "n2")
    with Client(db_path) as client:
        job_id = client.enqueue(["true"])
        (job,) = client.store.dispatch.claim(claim(runner="n2:1:x"), NOW)
        hook.on_claimed(job, NOW)
        decision = Decision(State.SUCCEEDED, None)
        hook.on_finished(job, Finish(job_id, 1, "n2:1:x", decision), NOW)
        client.enqueue(["true"])
        registry.register(
            metrics.DbCollector(client.store, lambda: client.config, lambda: NOW, lambda: 0.0)
        )
        text = generate_latest(registry).decode()
    # Then its own work is labelled with its node, the node is described once, and the
    # cluster-wide gauges are not per node
    assert 'scheduler_dispatch_total{node="n2",queue="default"} 1.0' in text
    assert 'scheduler_processed_total{node="n2",outcome="succeeded",queue="default"} 1.0' in text
    assert 'jobctl_node_info{host="host-2",node="n2",tags="gpu,ssd",version="9.9"} 1.0' in text
    assert 'scheduler_queue_depth{queue="default"} 1.0' in text
