"""The daemon's HTTP API against a real `jobctl daemon --http 127.0.0.1:0` subprocess:
every status code, tokens, the httpx client shape, body limits, slow clients, /healthz,
/metrics, /openapi.json (fuzzed by schemathesis)."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.cli import TRACEBACK, Jobctl
from tests.support.fuzz import schemathesis
from tests.support.waiting import wait_until

ON_EACH_BACKEND = True  # the `jc` tests run on SQLite and on PostgreSQL

pytestmark = pytest.mark.slow

CONFIG = """\
queues:
  - name: default
  - name: bulk
    concurrency: 2
  - name: tiny
    max_depth: 1
    shed: reject
job_types:
  - name: send_email
    command: [cat]
  - name: to_bulk
    command: [cat]
    queue: bulk
"""
LISTEN = re.compile(r"event=http\.listening addr=(\S+)")


class Api:
    def __init__(self, jc: Jobctl, index: int) -> None:
        self.jc, self.index = jc, index
        found = wait_until(
            lambda: LISTEN.search(jc.daemon_log(index)), 10, 0.05, "http.listening in the log"
        )
        self.url = f"http://{found.group(1)}"
        self.tokens = {
            name: jc.json("token", "create", name, "--scope", scope)["token"]
            for name, scope in (
                ("svc", "enqueue,read"),
                ("reader", "read"),
                ("writer", "enqueue"),
                ("boss", "admin"),
            )
        }

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}

    def post(self, body: Any, token: str | None = "svc", **kw: Any) -> httpx.Response:
        headers = self.auth(token) if token else {}
        return httpx.post(f"{self.url}/internal/jobs", json=body, headers=headers, timeout=10, **kw)

    def count_jobs(self) -> int:
        return len(self.jc.json("list", "--limit", "100000"))


def start_api(tmp: Path) -> tuple[Jobctl, Api]:
    jc = Jobctl(tmp)
    (tmp / "config.yaml").write_text(CONFIG)
    jc.env["JOBCTL_CONFIG"] = str(tmp / "config.yaml")
    jc.start_daemon("--http", "127.0.0.1:0")
    return jc, Api(jc, 0)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    jc, found = start_api(tmp_path_factory.mktemp("http"))
    yield found
    jc.stop_daemons()
    assert TRACEBACK not in jc.daemon_log(0), jc.daemon_log(0)
    assert "event=http.error" not in jc.daemon_log(0), jc.daemon_log(0)


def test_an_existing_client_posting_job_class_with_httpx_works_unchanged(api: Api) -> None:
    body = {"job_class": "send_email", "payload": {"to": "x@example.com"}, "run_at": None}
    r = api.post(body)
    assert r.status_code == 201, r.text
    job = r.json()
    assert job["job_type"] == "send_email" and job["payload"] == {"to": "x@example.com"}
    assert job["queue"] == "default" and job["state"] in ("queued", "running", "succeeded")
    request_id = r.headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{16}", request_id)
    assert api.jc.wait_state(job["id"], "succeeded")["id"] == job["id"]
    got = httpx.get(f"{api.url}/internal/jobs/{job['id']}", headers=api.auth("svc"), timeout=10)
    assert got.status_code == 200 and got.json()["state"] == "succeeded"
    audit = [e for e in api.jc.json("audit") if e["request_id"] == request_id]
    assert [(e["action"], e["actor"], e["target"]) for e in audit] == [
        ("job.enqueue", "token:svc", str(job["id"]))
    ]
    log = api.jc.daemon_log(0)
    assert re.search(rf"event=job\.succeeded job_id={job['id']} .*request_id={request_id}", log)


def test_job_type_run_at_queue_and_key(api: Api) -> None:
    body = {"job_type": "to_bulk", "payload": {}, "run_at": "2099-01-01T00:00:00Z", "key": "k1"}
    first = api.post(body)
    assert first.status_code == 201, first.text
    job = first.json()
    assert (job["queue"], job["state"], job["run_at"], job["key"]) == (
        "bulk",
        "scheduled",
        "2099-01-01T00:00:00Z",
        "k1",
    )
    again = api.post(body)
    assert again.status_code == 200 and again.json()["id"] == job["id"], "the key is held"
    admin = api.post({"job_type": "send_email", "queue": "bulk"}, token="boss")
    assert admin.status_code == 201 and admin.json()["queue"] == "bulk", "admin implies enqueue"


BIG = {"job_type": "send_email", "payload": {"blob": "x" * (1024 * 1024 + 1)}}


@pytest.mark.parametrize(
    ("token", "body", "status", "needle"),
    [
        (None, {"job_type": "send_email"}, 401, "bearer token"),
        ("reader", {"job_type": "send_email"}, 403, "enqueue"),
        ("svc", {"job_type": "no_such_type", "payload": {}}, 422, "no_such_type"),
        ("svc", {"job_class": "send_email", "payload": [1]}, 422, "payload"),
        ("svc", {"job_type": "send_email", "run_at": "tomorrowish"}, 422, "run_at"),
        ("svc", {"job_type": "send_email", "run_at": 5}, 422, "run_at"),
        ("svc", {"job_type": "send_email", "queue": "nowhere"}, 422, "nowhere"),
        ("svc", {"job_type": "send_email", "colour": "red"}, 422, "colour"),
        ("svc", {"job_type": "send_email", "job_class": "to_bulk"}, 422, "differ"),
        ("svc", {"payload": {}}, 422, "job_type"),
        ("svc", {"job_type": "send_email", "max_attempts": 10**30}, 422, "max_attempts"),
        ("svc", {"job_type": "send_email", "timeout": 1e308}, 422, "timeout"),
        ("svc", [1, 2], 400, "object"),
        ("svc", BIG, 413, "too large"),
    ],
)
def test_enqueue_refusals(api: Api, token: str | None, body: Any, status: int, needle: str) -> None:
    before = api.count_jobs()
    r = api.post(body, token=token)
    assert r.status_code == status, r.text
    assert needle in r.json()["error"], r.json()
    assert r.headers["X-Request-Id"]
    if status == 401:
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert api.count_jobs() == before, "nothing enqueued"


@pytest.mark.parametrize(
    "raw", [b'{"job_type": "send_email"', b"\xff\xfe", b"", b"NaN", b'{"payload": NaN}']
)
def test_malformed_json_is_400(api: Api, raw: bytes) -> None:
    r = httpx.post(f"{api.url}/internal/jobs", content=raw, headers=api.auth("svc"), timeout=10)
    assert r.status_code == 400, r.text
    assert r.json()["error"]


@pytest.mark.parametrize(
    ("method", "path", "token", "status"),
    [
        ("GET", "/internal/jobs/1", None, 401),
        ("GET", "/internal/jobs/1", "bogus", 401),
        ("GET", "/internal/jobs/1", "writer", 403),
        ("GET", "/internal/jobs/999999", "reader", 404),
        ("GET", "/internal/jobs/abc", "reader", 404),
        ("GET", "/internal/jobs/99999999999999999999999", "reader", 404),
        ("GET", "/internal/jobs/0", "reader", 404),
        ("GET", "/nope", None, 404),
        ("GET", "/internal/jobs", "svc", 405),
        ("DELETE", "/internal/jobs/1", "svc", 405),
        ("POST", "/healthz", None, 405),
        ("TRACE", "/metrics", None, 405),
        ("GET", "/status", None, 401),
        ("GET", "/status", "writer", 403),
    ],
)
def test_route_codes(api: Api, method: str, path: str, token: str | None, status: int) -> None:
    headers = {}
    if token == "bogus":
        headers = {"Authorization": "Bearer jobctl_00000000_" + "A" * 43}
    elif token:
        headers = api.auth(token)
    r = httpx.request(method, f"{api.url}{path}", headers=headers, timeout=10)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["error"]
    if status == 405:
        assert r.headers["Allow"]


def _raw(api: Api, data: bytes, read_timeout: float = 10) -> bytes:
    host, port = api.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=read_timeout) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def _request_head(api: Api, extra: str) -> bytes:
    token = api.tokens["svc"]
    return (
        f"POST /internal/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\n{extra}\r\n"
    ).encode()


@pytest.mark.parametrize("raw_id", [b"\xb2", b"\xc2\xb2", b"%C2%B2", b"\xd9\xa1"])
def test_a_non_ascii_job_id_is_404_not_500(api: Api, raw_id: bytes) -> None:
    token = api.tokens["reader"].encode()
    reply = _raw(
        api,
        b"GET /internal/jobs/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
        b"Connection: close\r\n\r\n" % (raw_id, token),
    )
    assert reply.startswith(b"HTTP/1.1 404"), reply[:300]


def test_content_length_over_the_limit_is_refused_before_the_body_is_sent(api: Api) -> None:
    reply = _raw(api, _request_head(api, "Content-Length: 5000000\r\n"))
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    reply = _raw(api, _request_head(api, "Content-Length: 5000000\r\nExpect: 100-continue\r\n"))
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]


def test_chunked_bodies_are_counted_against_the_limit(api: Api) -> None:
    small = json.dumps({"job_type": "send_email", "payload": {"n": 1}}).encode()
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(small), small)
    ok = _raw(
        api,
        _request_head(api, "Transfer-Encoding: chunked\r\nConnection: close\r\n") + chunked,
    )
    assert ok.startswith(b"HTTP/1.1 201"), ok[:300]
    piece = b"x" * 65536
    big = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for _ in range(17)) + b"0\r\n\r\n"
    reply = _raw(api, _request_head(api, "Transfer-Encoding: chunked\r\n") + big)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]


def test_a_silent_client_times_out_and_stalls_nothing(api: Api) -> None:
    host, port = api.url.removeprefix("http://").rsplit(":", 1)
    silent = [socket.create_connection((host, int(port))) for _ in range(4)]
    no_body = socket.create_connection((host, int(port)))
    silent.append(no_body)
    try:
        for sock in silent[:-1]:
            sock.sendall(b"POST /internal/jobs HTTP/1.1\r\nHost: x\r\nContent-Len")
        no_body.sendall(_request_head(api, "Transfer-Encoding: chunked\r\n"))
        r = api.post({"job_type": "send_email", "payload": {"while": "silent clients"}})
        assert r.status_code == 201, "other clients are served"
        job_id = api.jc.enqueue("--", "true")
        api.jc.wait_state(job_id, "succeeded")
        for sock in silent:
            sock.settimeout(30)
            reply = sock.recv(100)  # the request deadline (15 s) ends the connection
            assert reply == b"" or reply.startswith(b"HTTP/1.1 408"), reply
        assert reply.startswith(b"HTTP/1.1 408"), "a body that never comes: 408"
    finally:
        for sock in silent:
            sock.close()


def test_a_revoked_token_is_refused_at_once(api: Api) -> None:
    token = api.jc.json("token", "create", "temp", "--scope", "read")["token"]
    url = f"{api.url}/internal/jobs/1"
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(url, headers=headers, timeout=10).status_code == 200
    api.jc.ok("token", "revoke", "temp")
    assert httpx.get(url, headers=headers, timeout=10).status_code == 401
    names = [t["name"] for t in api.jc.json("token", "list")]
    assert "temp" not in names and "svc" in names
    assert all("token" not in t for t in api.jc.json("token", "list")), "never the secret"


def test_backpressure_is_503(api: Api) -> None:
    api.jc.ok("queue", "pause", "tiny")
    first = api.post({"job_type": "send_email", "queue": "tiny"})
    assert first.status_code == 201, first.text
    full = api.post({"job_type": "send_email", "queue": "tiny"})
    assert full.status_code == 503, full.text
    assert full.headers["Retry-After"] and full.json()["error"]


def test_healthz_needs_no_token_and_returns_the_probe_json(api: Api) -> None:
    r = httpx.get(f"{api.url}/healthz", timeout=10)
    assert r.status_code in (200, 503), r.text
    report = r.json()
    assert set(report) >= {"status", "probes"} and report["probes"]
    assert (r.status_code == 200) == (report["status"] in ("OK", "WARNING"))
    for probe in report["probes"]:
        assert set(probe) >= {"name", "status", "value", "message"}


def _metric(text: str, name: str, **labels: str) -> float | None:
    for line in text.splitlines():
        if not line.startswith(name + "{") and line.split(" ")[0] != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_metrics_count_dispatches_outcomes_and_enqueues(api: Api) -> None:
    def scrape() -> str:
        r = httpx.get(f"{api.url}/metrics", timeout=10)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        return r.text

    before = scrape()
    ok_before = _metric(before, "scheduler_processed_total", queue="default", outcome="succeeded")
    failed_before = _metric(before, "scheduler_dispatch_failed_total", queue="default") or 0
    spawn_before = _metric(before, "scheduler_spawn_failed_total", queue="default") or 0
    good = api.jc.enqueue("--", "true")
    bad = api.jc.enqueue("--max-attempts", "1", "--", "false")
    unstartable = api.jc.enqueue("--max-attempts", "1", "--", "/no/such/command")
    api.jc.wait_state(good, "succeeded")
    api.jc.wait_state(bad, "dead")
    api.jc.wait_state(unstartable, "dead")

    def counted() -> str | None:
        text = scrape()
        done = _metric(text, "scheduler_processed_total", queue="default", outcome="succeeded")
        dead = _metric(text, "scheduler_processed_total", queue="default", outcome="dead")
        # DB gauges are cached for 1 s: wait for a scrape that read them after the jobs ended
        dlq = _metric(text, "scheduler_dlq_entries", queue="default")
        return text if done and done >= (ok_before or 0) + 1 and dead and dlq else None

    text = wait_until(counted, 10, 0.2, "processed counters")
    # every failed attempt counts as failed; only the one that could not start as spawn
    assert (_metric(text, "scheduler_dispatch_failed_total", queue="default") or 0) >= (
        failed_before + 2
    )
    assert _metric(text, "scheduler_spawn_failed_total", queue="default") == spawn_before + 1
    assert (_metric(text, "scheduler_dispatch_total", queue="default") or 0) >= 2
    assert (_metric(text, "scheduler_dispatch_latency_seconds_count", queue="default") or 0) >= 2
    assert (_metric(text, "scheduler_enqueued_total", queue="default") or 0) >= 2
    assert (_metric(text, "scheduler_dlq_entries", queue="default") or 0) >= 1
    assert _metric(text, "scheduler_queue_depth", queue="bulk") is not None
    assert _metric(text, "scheduler_queue_running", queue="default") is not None
    assert _metric(text, "scheduler_queue_lag_seconds", queue="default") is not None
    assert _metric(text, "scheduler_daemon_heartbeat_age_seconds") is not None
    assert "_created" not in text
    assert api.post({"job_type": "send_email"}).status_code == 201
    httpx.get(f"{api.url}/no/such/route/{good}", timeout=10)
    text = scrape()
    posted = _metric(
        text, "scheduler_http_requests_total", route="/internal/jobs", method="POST", code="201"
    )
    assert posted and posted >= 1
    assert _metric(text, "scheduler_http_requests_total", route="other", code="404")
    assert f"/no/such/route/{good}" not in text, "labels are route templates, not paths"


def test_openapi_describes_every_route(api: Api) -> None:
    doc = httpx.get(f"{api.url}/openapi.json", timeout=10).json()
    assert doc["openapi"].startswith("3.")
    assert set(doc["paths"]) == {
        "/internal/jobs",
        "/internal/jobs/{id}",
        "/internal/jobs/retry",
        "/internal/jobs/cancel",
        "/internal/jobs/{id}/retry",
        "/internal/jobs/{id}/cancel",
        "/internal/schedules/{name}/{action}",
        "/healthz",
        "/metrics",
        "/status",
        "/openapi.json",
    }
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_schemathesis_finds_no_server_error(api: Api, tmp_path: Path) -> None:
    # about 300 cases over the operations its token may use: a few seconds
    schemathesis(api.url, api.tokens["svc"], tmp_path, 60)
    assert "event=http.error" not in api.jc.daemon_log(0)
