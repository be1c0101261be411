"""The admin routes (scope `admin`): retry and cancel jobs, pause / resume / run schedules.

They call the very functions the CLI calls (`ops.admin`): the same guard rails, the same
audit entries, with the token's name as the actor (`token:NAME`) and the request's id.
A body is optional; it may carry `{"confirm": "N"}`, the API form of `--confirm N`. The
bulk forms `POST /internal/jobs/retry` (`{"ids": [...]}` or `{"state": "dead",
"queue": …}`) and `POST /internal/jobs/cancel` (`{"ids": [...]}`) take the count confirmed
as the CLI does. Answers: 200 with what became of each job; 403 a guard rail refused (the
reason says how to confirm); 404 unknown job or schedule; 409 a job in no state for the
action; 422 a bad body.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from jobctl.domain.audit import Actor
from jobctl.domain.job import State
from jobctl.errors import InvalidInput
from jobctl.ops import admin
from jobctl.ops.audit import Caller
from jobctl.runtime.http.jobs_api import MAX_ID, job_id_from, parse_body
from jobctl.runtime.http.messages import Response
from jobctl.store.repos.jobs import CancelResult, Retried

if TYPE_CHECKING:
    from jobctl.runtime.http.routes import ApiApp, Call

CONFIRM_HINT = '{{"confirm": "{}"}}'
BULK_MAX = 10_000  # ids in one bulk request
RETRY_STATES = (State.DEAD.value, State.RETRYING.value)


def caller(token: str | None, host: str, request_id: str, body: dict[str, Any]) -> Caller:
    """The token behind a request, with the confirmation its body gives."""
    confirm = body.get("confirm")
    if confirm is not None and (isinstance(confirm, bool) or not isinstance(confirm, str | int)):
        raise InvalidInput(f"invalid confirm {confirm!r}: the target, as a string")
    actor = Actor(name=f"token:{token}", uid=None, host=host)
    return Caller(actor, request_id, None if confirm is None else str(confirm), hint=CONFIRM_HINT)


def body_of(raw: bytes, allowed: Sequence[str]) -> dict[str, Any]:
    """The request's JSON object (an empty body is `{}`); 422 for a field not in `allowed`."""
    body = parse_body(raw) if raw.strip() else {}
    unknown = sorted(set(body) - {"confirm", *allowed})
    if unknown:
        raise InvalidInput(f"unknown field {unknown[0]!r}")
    return body


def bulk_ids(body: dict[str, Any]) -> list[int]:
    """`ids` of a bulk body: a non-empty list of job ids."""
    ids = body.get("ids")
    if (
        not isinstance(ids, list)
        or not 0 < len(ids) <= BULK_MAX
        or not all(isinstance(i, int) and not isinstance(i, bool) and 0 < i <= MAX_ID for i in ids)
    ):
        raise InvalidInput(f"invalid ids {ids!r}: a list of 1 to {BULK_MAX} job ids")
    return ids


def retry_selection(body: dict[str, Any], ids_in_state: Any) -> tuple[list[int], dict[str, Any]]:
    """The jobs a bulk retry body names: `ids`, or every job in `state` (dead|retrying),
    optionally of one `queue`; with the selection for the audit entry."""
    if "ids" in body:
        if "state" in body or "queue" in body:
            raise InvalidInput("give ids or state, not both")
        return bulk_ids(body), {}
    state, queue = body.get("state"), body.get("queue")
    if state not in RETRY_STATES:
        raise InvalidInput(f"invalid state {state!r}: give ids, or state dead or retrying")
    if queue is not None and (not isinstance(queue, str) or not queue):
        raise InvalidInput(f"invalid queue {queue!r}: a queue name")
    return ids_in_state([state], queue), {"state": state, "queue": queue, "via": "http"}


def retried_shape(request_id: str, results: Sequence[Retried]) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "jobs": [
            {"id": r.id, "outcome": "skipped" if r.skipped else "retried", "reason": r.skipped}
            for r in results
        ],
    }


def cancelled_shape(request_id: str, results: Sequence[CancelResult]) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "jobs": [{"id": r.id, "outcome": r.outcome, "reason": None} for r in results],
    }


def _one_job(call: Call) -> int | None:
    return job_id_from(call.params[0])


def _who(app: ApiApp, call: Call, body: dict[str, Any]) -> Caller:
    return caller(call.token, app.host, call.request_id, body)


def retry_one(app: ApiApp, call: Call) -> Response:
    """`POST /internal/jobs/{id}/retry`."""
    job_id = _one_job(call)
    if job_id is None:
        return Response.error(404, f"no job {call.params[0]!r}")
    who = _who(app, call, body_of(call.request.body, ()))
    results = admin.retry_jobs(call.store, [job_id], who, call.now, via="http")
    return Response.json(200, retried_shape(call.request_id, results), log={"job_id": job_id})


def retry_bulk(app: ApiApp, call: Call) -> Response:
    """`POST /internal/jobs/retry`: `{"ids": [...]}` or `{"state", "queue"?}`."""
    body = body_of(call.request.body, ("ids", "state", "queue"))
    who = _who(app, call, body)
    ids, selection = retry_selection(body, call.store.jobs.ids_in_state)
    results = admin.retry_jobs(call.store, ids, who, call.now, **selection)
    return Response.json(200, retried_shape(call.request_id, results))


def cancel_one(app: ApiApp, call: Call) -> Response:
    """`POST /internal/jobs/{id}/cancel`."""
    job_id = _one_job(call)
    if job_id is None:
        return Response.error(404, f"no job {call.params[0]!r}")
    who = _who(app, call, body_of(call.request.body, ()))
    results = admin.cancel_jobs(call.store, [job_id], who, call.now)
    return Response.json(200, cancelled_shape(call.request_id, results), log={"job_id": job_id})


def cancel_bulk(app: ApiApp, call: Call) -> Response:
    """`POST /internal/jobs/cancel`: `{"ids": [...], "confirm": "N"}`."""
    body = body_of(call.request.body, ("ids",))
    who = _who(app, call, body)
    results = admin.cancel_jobs(call.store, bulk_ids(body), who, call.now)
    return Response.json(200, cancelled_shape(call.request_id, results))


SCHEDULE_ACTIONS = {"pause": {"enabled": 0}, "resume": {"enabled": 1}}


def schedule_action(app: ApiApp, call: Call) -> Response:
    """`POST /internal/schedules/{name}/pause|resume|run`."""
    from jobctl.ops.schedules import schedule_shape
    from jobctl.ops.shapes import job_shape

    name, action = unquote(call.params[0]), call.params[1]
    who = _who(app, call, body_of(call.request.body, ()))
    if action == "run":  # the job; an --on-every-node schedule's: {"jobs": [one per node]}
        ids = admin.run_schedule(call.store, call.config, name, who, call.now)
        jobs = [job_shape(call.store.jobs.get(job_id), call.now) for job_id in ids]
        headers = {"Location": f"/internal/jobs/{ids[0]}"}
        body = {"jobs": jobs} if call.store.schedules.get(name).on_every_node else jobs[0]
        return Response.json(201, body, headers=headers, log={"job_id": ids[0]})
    admin.set_schedule(call.store, name, action, who, call.now, **SCHEDULE_ACTIONS[action])
    shadow_mode = call.config.shadow_mode.enabled
    shape = schedule_shape(call.store, call.store.schedules.get(name), call.now, shadow_mode)
    return Response.json(200, shape)
