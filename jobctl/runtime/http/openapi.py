"""`GET /openapi.json`: an OpenAPI 3.0 description of every route, body, response and the
bearer security scheme (the schemathesis test runs against it)."""

from __future__ import annotations

from typing import Any

from jobctl import __version__
from jobctl.runtime.http.jobs_api import INT_MAX, INT_MIN, MAX_ID, RUN_AT_PATTERN

_NULL_STR = {"type": "string", "nullable": True}
_NULL_INT = {"type": "integer", "nullable": True}
_NULL_TIME = {"type": "string", "format": "date-time", "nullable": True}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _json(description: str, ref: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


_ENQUEUE = {
    "type": "object",
    "description": "A configured job type and its payload. `job_class` is an alias of "
    "`job_type` (give one, or both equal).",
    "additionalProperties": False,
    "properties": {
        "job_type": {"type": "string", "minLength": 1},
        "job_class": {"type": "string", "minLength": 1},
        "payload": {"type": "object", "nullable": True},
        "run_at": {
            "type": "string",
            "nullable": True,
            "pattern": RUN_AT_PATTERN,
            "description": "ISO 8601 date, optionally with a time (no offset: the daemon's"
            " zone), or relative: +5m, +1h30m, +90 (seconds). A date that does not exist"
            " (2030-02-30) or lies beyond year 9999 is 422.",
        },
        "queue": {"type": "string", "minLength": 1},
        "key": {"type": "string", "minLength": 1, "description": "idempotency key"},
        "name": {"type": "string", "minLength": 1},
        "ordering_key": {"type": "string", "minLength": 1},
        "tenant": {"type": "string", "minLength": 1},
        "on_node": {"type": "string", "minLength": 1, "description": "only this node runs it"},
        "on_tag": {"type": "string", "minLength": 1, "description": "only a daemon with this tag"},
        "priority": {"type": "integer", "minimum": INT_MIN, "maximum": INT_MAX},
        "max_attempts": {"type": "integer", "minimum": 1, "maximum": INT_MAX},
        "timeout": {"oneOf": [{"type": "number"}, {"type": "string"}]},
    },
}

_JOB = {
    "type": "object",
    "required": ["id", "queue", "state", "created_at", "run_at", "attempts", "max_attempts"],
    "properties": {
        "id": {"type": "integer"},
        "name": _NULL_STR,
        "queue": {"type": "string"},
        "state": {"type": "string"},
        "schedule": _NULL_STR,
        "nominal_at": _NULL_TIME,
        "command": {"type": "array", "items": {"type": "string"}, "nullable": True},
        "job_type": _NULL_STR,
        "payload": {"nullable": True},
        "priority": {"type": "integer"},
        "run_at": {"type": "string", "format": "date-time"},
        "created_at": {"type": "string", "format": "date-time"},
        "started_at": _NULL_TIME,
        "finished_at": _NULL_TIME,
        "attempts": {"type": "integer"},
        "max_attempts": {"type": "integer"},
        "exit_code": _NULL_INT,
        "failure_class": _NULL_STR,
        "key": _NULL_STR,
        "ordering_key": _NULL_STR,
        "tenant": _NULL_STR,
        "on_node": _NULL_STR,
        "on_tag": _NULL_STR,
        "depends_on": {"type": "array", "items": {"type": "integer"}},
        "retry_after": _NULL_TIME,
        "dlq_id": _NULL_INT,
    },
}

_REPORT = {
    "type": "object",
    "required": ["status", "probes"],
    "properties": {
        "status": {"type": "string", "enum": ["OK", "WARNING", "CRITICAL", "UNKNOWN"]},
        "probes": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "status", "value", "message"],
                "properties": {
                    "name": {"type": "string"},
                    "status": {"type": "string"},
                    "value": {},
                    "message": {"type": "string"},
                },
            },
        },
    },
}

_CONFIRM = {
    "type": "string",
    "description": "The guard rail's target, as `--confirm` takes it on the CLI: the number"
    " of jobs of a bulk retry (over 100) or cancel (over 1).",
}
_ADMIN = {
    "type": "object",
    "description": "Optional (an empty body is the same as {}).",
    "additionalProperties": False,
    "properties": {"confirm": _CONFIRM},
}
_IDS = {
    "type": "array",
    "minItems": 1,
    "maxItems": 10000,
    "items": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
}
_BULK_RETRY = {
    "type": "object",
    "description": "Either `ids`, or every job in `state` (optionally of one `queue`).",
    "additionalProperties": False,
    "properties": {
        "ids": _IDS,
        "state": {"type": "string", "enum": ["dead", "retrying"]},
        "queue": {"type": "string", "minLength": 1},
        "confirm": _CONFIRM,
    },
}
_BULK_CANCEL = {
    "type": "object",
    "required": ["ids"],
    "additionalProperties": False,
    "properties": {"ids": _IDS, "confirm": _CONFIRM},
}
_OUTCOMES = {
    "type": "object",
    "required": ["request_id", "jobs"],
    "properties": {
        "request_id": {"type": "string"},
        "jobs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "outcome", "reason"],
                "properties": {
                    "id": {"type": "integer"},
                    "outcome": {
                        "type": "string",
                        "enum": ["retried", "skipped", "cancelled", "requested"],
                        "description": "requested: running, its daemon terminates it",
                    },
                    "reason": _NULL_STR,
                },
            },
        },
    },
}
_SCHEDULE = {
    "type": "object",
    "required": ["name", "cron", "tz", "queue", "enabled", "shadow"],
    "properties": {
        "name": {"type": "string"},
        "cron": {"type": "string"},
        "tz": {"type": "string"},
        "queue": {"type": "string"},
        "enabled": {"type": "boolean"},
        "shadow": {"type": "boolean"},
        "next_run_at": _NULL_TIME,
        "last_run_at": _NULL_TIME,
    },
}

_AUTH_ERRORS = {
    "401": _error("No token, or an invalid or revoked one"),
    "403": _error("The token lacks the scope"),
}


def _body(ref: str) -> dict[str, Any]:
    return {
        "required": False,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


def _admin(summary: str, body: str, ok: dict[str, Any], **more: Any) -> dict[str, Any]:
    """An admin route: scope admin, audited; guard rails answer 403."""
    return {
        "post": {
            "summary": f"{summary} (scope: admin; audited as token:NAME)",
            "security": [{"bearer": []}],
            **more,
            "requestBody": _body(body),
            "responses": {
                **ok,
                "400": _error("Malformed JSON, or not an object"),
                "401": _AUTH_ERRORS["401"],
                "403": _error("The token lacks the admin scope, or a guard rail refused"),
                "404": _error("No such job or schedule"),
                "409": _error("The job is in no state for this action"),
                "422": _error("Unknown field or invalid value"),
                "503": _error("Backpressure (run: the queue is full) or the DB is busy"),
            },
        }
    }


def document() -> dict[str, Any]:
    """The OpenAPI document."""
    job_id = {
        "name": "id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "jobctl daemon API", "version": __version__},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "string"}},
                },
                "EnqueueRequest": _ENQUEUE,
                "Job": _JOB,
                "Report": _REPORT,
                "AdminRequest": _ADMIN,
                "BulkRetry": _BULK_RETRY,
                "BulkCancel": _BULK_CANCEL,
                "JobOutcomes": _OUTCOMES,
                "Schedule": _SCHEDULE,
            },
        },
        "paths": {
            "/internal/jobs": {
                "post": {
                    "summary": "Enqueue a job of a configured job type (scope: enqueue)",
                    "security": [{"bearer": []}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/EnqueueRequest"}
                            }
                        },
                    },
                    "responses": {
                        "201": _json("The new job", "Job"),
                        "200": _json("A live job already held the idempotency key", "Job"),
                        "400": _error("Malformed JSON, or not an object"),
                        **_AUTH_ERRORS,
                        "408": _error("The body did not arrive in time"),
                        "413": _error("Body over the limit (1 MiB by default)"),
                        "422": _error("Unknown job type, queue or field; invalid value"),
                        "503": _error("Backpressure: the queue is full (retry later)"),
                    },
                }
            },
            "/internal/jobs/{id}": {
                "get": {
                    "summary": "One job (scope: read)",
                    "security": [{"bearer": []}],
                    "parameters": [job_id],
                    "responses": {
                        "200": _json("The job", "Job"),
                        **_AUTH_ERRORS,
                        "404": _error("No such job"),
                    },
                }
            },
            "/internal/jobs/retry": _admin(
                "Retry jobs by id or state (over 100: confirm the count)",
                "BulkRetry",
                {"200": _json("What became of each job", "JobOutcomes")},
            ),
            "/internal/jobs/cancel": _admin(
                "Cancel jobs (more than one: confirm the count)",
                "BulkCancel",
                {"200": _json("What became of each job", "JobOutcomes")},
            ),
            "/internal/jobs/{id}/retry": _admin(
                "Retry a dead, cancelled or retrying job now",
                "AdminRequest",
                {"200": _json("Retried, or skipped (its key is held)", "JobOutcomes")},
                parameters=[job_id],
            ),
            "/internal/jobs/{id}/cancel": _admin(
                "Cancel a job (a running one: its daemon terminates it)",
                "AdminRequest",
                {"200": _json("Cancelled, or requested", "JobOutcomes")},
                parameters=[job_id],
            ),
            "/internal/schedules/{name}/{action}": _admin(
                "Pause or resume a schedule, or run it now",
                "AdminRequest",
                {
                    "200": _json("pause, resume: the schedule", "Schedule"),
                    "201": _json(
                        "run: the new job (an --on-every-node schedule: {jobs: [one per node]})",
                        "Job",
                    ),
                },
                parameters=[
                    {
                        "name": "name",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "pattern": "^[^/]+$"},
                    },
                    {
                        "name": "action",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": ["pause", "resume", "run"]},
                    },
                ],
            ),
            "/healthz": {
                "get": {
                    "summary": "Health probes (no token)",
                    "security": [],
                    "responses": {
                        "200": _json("OK or WARNING", "Report"),
                        "503": _json("CRITICAL or UNKNOWN", "Report"),
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics (no token)",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "Prometheus text exposition format",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
            "/status": {
                "get": {
                    "summary": "HTML status page (scope: read)",
                    "security": [{"bearer": []}],
                    "responses": {
                        "200": {
                            "description": "The page",
                            "content": {"text/html": {"schema": {"type": "string"}}},
                        },
                        **_AUTH_ERRORS,
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "OpenAPI 3 document",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
        },
    }
