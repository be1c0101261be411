"""The admin routes (scope `admin`) against a real daemon: retry a dead job and cancel a
running one over HTTP, pause / resume / run a schedule, the guard rails' API form, each
visible in `jobctl audit` with the token's name and the request id; and schemathesis finds
no server error on them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.cli import TRACEBACK, Jobctl
from tests.support.fuzz import schemathesis
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

CONFIG = """\
queues:
  - name: default
  - name: parked
"""
ROUTES = [
    ("/internal/jobs/1/retry", {}),
    ("/internal/jobs/1/cancel", {}),
    ("/internal/jobs/retry", {"ids": [1]}),
    ("/internal/jobs/cancel", {"ids": [1]}),
    ("/internal/schedules/nightly/pause", {}),
    ("/internal/schedules/nightly/resume", {}),
    ("/internal/schedules/nightly/run", {}),
]


class Admin:
    def __init__(self, jc: Jobctl) -> None:
        self.jc = jc
        found = wait_until(
            lambda: re.search(r"event=http\.listening addr=(\S+)", jc.daemon_log(0)), 10, 0.05
        )
        self.url = f"http://{found.group(1)}"
        self.tokens = {
            name: jc.json("token", "create", name, "--scope", scope)["token"]
            for name, scope in (("boss", "admin"), ("svc", "enqueue,read"))
        }

    def post(self, path: str, body: Any = None, token: str | None = "boss") -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[token]}"} if token else {}
        return httpx.post(f"{self.url}{path}", json=body, headers=headers, timeout=10)

    def audit(self, request_id: str) -> list[tuple[str, str, str | None, str]]:
        return [
            (e["action"], e["actor"], e["target"], e["outcome"])
            for e in self.jc.json("audit")
            if e["request_id"] == request_id
        ]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Admin]:
    tmp = tmp_path_factory.mktemp("admin")
    jc = Jobctl(tmp)
    (tmp / "config.yaml").write_text(CONFIG)
    jc.env["JOBCTL_CONFIG"] = str(tmp / "config.yaml")
    assert jc.run("queue", "pause", "parked").rc == 0
    assert jc.run("schedule", "add", "nightly", "--cron", "0 3 * * *", "--", "true").rc == 0
    jc.start_daemon("--http", "127.0.0.1:0")
    yield Admin(jc)
    jc.stop_daemons()
    log = jc.daemon_log(0)
    assert TRACEBACK not in log and "event=http.error" not in log, log


@pytest.mark.parametrize(("path", "body"), ROUTES)
def test_each_admin_route_needs_the_admin_scope(api: Admin, path: str, body: Any) -> None:
    assert api.post(path, body, token=None).status_code == 401
    refused = api.post(path, body, token="svc")
    assert refused.status_code == 403 and "lacks the 'admin' scope" in refused.json()["error"]


def test_retry_of_a_dead_job_over_http_is_audited_with_the_token(api: Admin) -> None:
    # Given a job that died
    job = int(api.jc.run("enqueue", "--max-attempts", "1", "--", "sh", "-c", "exit 3").out)
    api.jc.wait_state(job, "dead")
    # When the admin API retries it
    r = api.post(f"/internal/jobs/{job}/retry")
    # Then it runs again (and dies again: a second attempt), audited as token:boss
    assert r.status_code == 200, r.text
    request_id = r.headers["X-Request-Id"]
    assert r.json() == {
        "request_id": request_id,
        "jobs": [{"id": job, "outcome": "retried", "reason": None}],
    }
    wait_until(lambda: api.jc.show(job)["attempts"] == 2 and api.jc.show(job)["state"] == "dead")
    assert api.audit(request_id) == [("job.retry", "token:boss", str(job), "ok")]
    table = api.jc.run("audit", "--action", "job.retry").out
    assert re.search(rf"token:boss .*{request_id}\s+job\.retry\s+{job}\s+ok", table), table
    # and a job in no state for a retry is 409, with the reason, audited as failed
    again = api.post(f"/internal/jobs/{job}/cancel")
    assert again.status_code == 409 and "already dead" in again.json()["error"]
    assert api.audit(again.headers["X-Request-Id"]) == [
        ("job.cancel", "token:boss", str(job), "failed")
    ]


def test_cancel_of_a_running_job_over_http(api: Admin) -> None:
    job = int(api.jc.run("enqueue", "--", "sleep", "60").out)
    api.jc.wait_state(job, "running")
    r = api.post(f"/internal/jobs/{job}/cancel", {})
    assert r.status_code == 200, r.text
    assert r.json()["jobs"] == [{"id": job, "outcome": "requested", "reason": None}]
    assert api.jc.wait_state(job, "cancelled")["state"] == "cancelled"
    assert api.audit(r.headers["X-Request-Id"]) == [("job.cancel", "token:boss", str(job), "ok")]


def test_bulk_cancel_needs_the_count_confirmed_as_on_the_cli(api: Admin) -> None:
    # Given three jobs waiting in a paused queue
    ids = [int(api.jc.run("enqueue", "-Q", "parked", "--", "true").out) for _ in range(3)]
    # When they are cancelled without, then with a wrong, then with the right confirmation
    bare = api.post("/internal/jobs/cancel", {"ids": ids})
    wrong = api.post("/internal/jobs/cancel", {"ids": ids, "confirm": "2"})
    right = api.post("/internal/jobs/cancel", {"ids": ids, "confirm": "3"})
    # Then the guard rail refuses twice (403, saying how to confirm), audited as refused
    assert bare.status_code == 403, bare.text
    assert bare.json()["error"] == (
        'cancel of 3 jobs is dangerous: add {"confirm": "3"} to proceed; nothing done'
    )
    assert wrong.status_code == 403 and "'2' does not match '3'" in wrong.json()["error"]
    target = ",".join(map(str, ids))
    assert api.audit(bare.headers["X-Request-Id"]) == [
        ("job.cancel", "token:boss", target, "refused")
    ]
    # and the confirmed one cancels them all
    assert right.status_code == 200, right.text
    assert [j["outcome"] for j in right.json()["jobs"]] == ["cancelled"] * 3
    assert all(api.jc.show(i)["state"] == "cancelled" for i in ids)


def test_bulk_retry_by_state_and_bad_bodies(api: Admin) -> None:
    job = int(api.jc.run("enqueue", "--max-attempts", "1", "-Q", "default", "--", "false").out)
    api.jc.wait_state(job, "dead")
    r = api.post("/internal/jobs/retry", {"state": "dead", "queue": "default"})
    assert r.status_code == 200, r.text
    assert {"id": job, "outcome": "retried", "reason": None} in r.json()["jobs"]
    for body, status in (
        ({"state": "running"}, 422),
        ({"ids": []}, 422),
        ({"ids": [1], "state": "dead"}, 422),
        ({"ids": ["x"]}, 422),
        ({"nope": 1}, 422),
        ({"ids": [10**9]}, 404),
    ):
        answer = api.post("/internal/jobs/retry", body)
        assert answer.status_code == status, (body, answer.text)
    malformed = httpx.post(
        f"{api.url}/internal/jobs/7/retry",
        content=b"{nope",
        headers={"Authorization": f"Bearer {api.tokens['boss']}"},
    )
    assert malformed.status_code == 400
    assert api.post("/internal/jobs/abc/retry").status_code == 404


def test_pause_resume_and_run_a_schedule_over_http(api: Admin) -> None:
    paused = api.post("/internal/schedules/nightly/pause")
    assert paused.status_code == 200, paused.text
    assert paused.json()["enabled"] is False and paused.json()["name"] == "nightly"
    assert api.jc.json("schedule", "show", "nightly")["enabled"] is False
    resumed = api.post("/internal/schedules/nightly/resume", {})
    assert resumed.status_code == 200 and resumed.json()["enabled"] is True
    run = api.post("/internal/schedules/nightly/run")
    assert run.status_code == 201, run.text
    job = run.json()
    assert job["schedule"] == "nightly" and run.headers["Location"] == f"/internal/jobs/{job['id']}"
    assert api.jc.wait_state(job["id"], "succeeded")["state"] == "succeeded"
    for response, action in ((paused, "pause"), (resumed, "resume"), (run, "run")):
        assert api.audit(response.headers["X-Request-Id"]) == [
            (f"schedule.{action}", "token:boss", "nightly", "ok")
        ]
    missing = api.post("/internal/schedules/nope/pause")
    assert missing.status_code == 404 and "no schedule named 'nope'" in missing.json()["error"]
    assert api.post("/internal/schedules/nightly/delete").status_code == 404


def test_run_an_every_node_schedule_over_http(api: Admin) -> None:
    # Given an every-node schedule, and one for a tag no live node has
    add = ("schedule", "add", "--cron", "0 4 * * *", "--on-every-node")
    assert api.jc.run(*add[:2], "fleet", *add[2:], "--", "true").rc == 0
    assert api.jc.run(*add[:2], "gpus", *add[2:], "--on-tag", "gpu", "--", "true").rc == 0
    # When it is run, the answer lists its jobs: one per live node (here the one daemon's)
    run = api.post("/internal/schedules/fleet/run")
    assert run.status_code == 201, run.text
    (job,) = run.json()["jobs"]
    (node,) = [n["name"] for n in api.jc.json("node", "list")]
    assert (job["schedule"], job["on_node"]) == ("fleet", node)
    assert run.headers["Location"] == f"/internal/jobs/{job['id']}"
    # And with no matching node, nothing is enqueued: 409 saying why, audited as failed
    nowhere = api.post("/internal/schedules/gpus/run")
    assert nowhere.status_code == 409 and "with tag 'gpu'" in nowhere.json()["error"]
    assert api.audit(nowhere.headers["X-Request-Id"]) == [
        ("schedule.run", "token:boss", "gpus", "failed")
    ]


def test_openapi_describes_the_admin_routes(api: Admin) -> None:
    doc = httpx.get(f"{api.url}/openapi.json", timeout=10).json()
    for path in (
        "/internal/jobs/retry",
        "/internal/jobs/cancel",
        "/internal/jobs/{id}/retry",
        "/internal/jobs/{id}/cancel",
        "/internal/schedules/{name}/{action}",
    ):
        assert "admin" in doc["paths"][path]["post"]["summary"]
        assert "403" in doc["paths"][path]["post"]["responses"]


def test_schemathesis_finds_no_server_error_on_the_admin_routes(api: Admin, tmp_path: Path) -> None:
    admin = "^/internal/(jobs/.*(retry|cancel)|schedules/)"
    schemathesis(api.url, api.tokens["boss"], tmp_path, 40, "--include-path-regex", admin)
    assert "event=http.error" not in api.jc.daemon_log(0)
