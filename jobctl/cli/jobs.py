"""enqueue, list, status, show, logs, retry, cancel, wait, explain."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from jobctl.cli import parse, render
from jobctl.cli.app import app
from jobctl.cli.context import state, wants_json
from jobctl.cli.options import Confirm, JobIds, Output, Queue, Since, choice
from jobctl.domain.job import SCHEDULED, State
from jobctl.domain.retry import Backoff

if TYPE_CHECKING:
    from jobctl.config.resolve import EnqueueOptions


@app.command(context_settings={"allow_interspersed_args": False})
def enqueue(
    ctx: typer.Context,
    command: Annotated[
        list[str] | None, typer.Argument(help="The command and its arguments (after --).")
    ] = None,
    job_type: Annotated[str | None, typer.Option("--type", help="A job type from config.")] = None,
    payload: Annotated[str | None, typer.Option(help="JSON payload, or @file.")] = None,
    from_file: Annotated[
        str | None, typer.Option("--from", help="Bulk: a JSONL file of jobs (- for stdin).")
    ] = None,
    queue: Queue = None,
    at: Annotated[str | None, typer.Option(help="Run at (ISO 8601 or +5m).")] = None,
    in_: Annotated[str | None, typer.Option("--in", help="Run after this duration.")] = None,
    priority: Annotated[int | None, typer.Option(help="Higher runs first.")] = None,
    max_attempts: Annotated[int | None, typer.Option(help="Attempts before dead.")] = None,
    backoff: Annotated[
        str | None, typer.Option(click_type=choice(Backoff), help="exponential, fixed or linear.")
    ] = None,
    backoff_base: Annotated[str | None, typer.Option(help="Backoff base duration.")] = None,
    backoff_max: Annotated[str | None, typer.Option(help="Backoff cap.")] = None,
    timeout: Annotated[str | None, typer.Option(help="Kill the attempt after this.")] = None,
    key: Annotated[str | None, typer.Option(help="Idempotency key.")] = None,
    ordering_key: Annotated[
        str | None, typer.Option(help="Jobs with this key run one at a time, in order.")
    ] = None,
    after: Annotated[
        list[str] | None, typer.Option(help="Run after this job succeeds (repeatable).")
    ] = None,
    tenant: Annotated[str | None, typer.Option(help="Tenant name.")] = None,
    env: Annotated[list[str] | None, typer.Option(help="KEY=VALUE (repeatable).")] = None,
    cwd: Annotated[
        str | None,
        typer.Option(help="Working directory (default: where enqueue runs, as at(1) does)."),
    ] = None,
    name: Annotated[str | None, typer.Option(help="A name for humans.")] = None,
    shell: Annotated[bool, typer.Option(help="Run the one CMD string with /bin/sh -c.")] = False,
    on_node: Annotated[
        str | None, typer.Option(help="Only the daemon of this node runs it (`node list`).")
    ] = None,
    on_tag: Annotated[
        str | None, typer.Option(help="Only a daemon with this tag (`daemon --tag`) runs it.")
    ] = None,
    gang: Annotated[
        int | None,
        typer.Option(help="Start N processes of CMD together, anywhere in the cluster, or none."),
    ] = None,
    wait: Annotated[
        bool, typer.Option(help="Block until the job ends; exit with its exit code.")
    ] = False,
    output: Output = None,
) -> None:
    """Enqueue a command or a job type; prints the new job id."""
    from jobctl.cli.audit import audited, ids_target
    from jobctl.clock import utcnow
    from jobctl.config.resolve import EnqueueOptions, directory
    from jobctl.domain.durations import parse_duration, parse_time
    from jobctl.domain.retry import parse_backoff
    from jobctl.errors import InvalidInput
    from jobctl.paths import working_directory

    app_state = state(ctx)
    now = utcnow()
    here = working_directory()
    if from_file is not None:
        if command or job_type or on_node or on_tag or gang is not None:
            raise InvalidInput(
                "--from takes jobs from the file: give no command, --type, --on-node, --on-tag"
                " or --gang"
            )
        from jobctl.ops.bulk import read_bulk

        options = read_bulk(from_file, now, here, app_state.request_id)
    else:
        if at and in_:
            raise InvalidInput("give --at or --in, not both")
        run_at = parse_time(at, now, what="--at") if at else None
        if in_:
            run_at = now + parse_duration(in_, "--in")
        options = [
            EnqueueOptions(
                command=command or None,
                shell=shell,
                job_type=job_type,
                payload=parse.payload(payload),
                queue=queue,
                name=name,
                priority=priority,
                run_at=run_at,
                max_attempts=max_attempts,
                backoff=parse_backoff(backoff) if backoff else None,
                backoff_base=parse.seconds(backoff_base, "--backoff-base"),
                backoff_max=parse.seconds(backoff_max, "--backoff-max"),
                timeout=parse.seconds(timeout, "--timeout"),
                key=key,
                ordering_key=ordering_key,
                depends_on=tuple(parse.job_ids(after)),
                tenant=tenant,
                env=parse.env_pairs(env),
                cwd=None if cwd is None else directory(cwd, here),
                enqueued_from=here,
                request_id=app_state.request_id,
                on_node=on_node,
                on_tag=on_tag,
                gang=gang,
            )
        ]
    client = app_state.client()
    with audited(ctx, "job.enqueue", None, _enqueue_args(options, from_file)) as audit:
        enqueued = client.enqueue_options(options, audit=audit.entry())  # one transaction
        audit.target = ids_target([e.id for e in enqueued])
        audit.recorded = any(e.created for e in enqueued)
    if wants_json(ctx, output):
        from jobctl.ops.shapes import job_shape

        shapes = [job_shape(client.get(e.id), utcnow()) for e in enqueued]
        render.print_json(shapes if from_file is not None else shapes[0])
    else:
        for entry in enqueued:
            render.say(str(entry.id))
            if not entry.created and not app_state.quiet:
                render.note(f"jobctl: job {entry.id} already holds key {key!r}; nothing created")
    if wait:
        _wait_and_exit(ctx, [e.id for e in enqueued], None)


def _enqueue_args(options: list[EnqueueOptions], from_file: str | None) -> dict[str, Any]:
    """What an enqueue's audit entry keeps: the bulk file and count, or the one job's options
    (env secrets are redacted when recorded)."""
    if from_file is not None:
        return {"from": from_file, "count": len(options)}
    o = options[0]
    args = {
        "command": o.command,
        "job_type": o.job_type,
        "queue": o.queue,
        "run_at": o.run_at.isoformat() if o.run_at else None,
        "key": o.key,
        "tenant": o.tenant,
        "depends_on": list(o.depends_on),
        "env": dict(o.env),
        "on_node": o.on_node,
        "on_tag": o.on_tag,
        "gang": o.gang,
    }
    return {k: v for k, v in args.items() if v not in (None, [], {})}


def _wait_and_exit(ctx: typer.Context, ids: list[int], timeout: float | None) -> None:
    """Wait for the jobs; say on stderr how each one that did not succeed ended; exit with
    the first failing job's exit code."""
    from jobctl.cli.views import how_it_ended

    client = state(ctx).client()
    jobs = client.wait(ids, timeout)
    for job in jobs:
        if job.wrapper_exit_code() != 0:
            render.note(f"jobctl: {how_it_ended(job)}")
    codes = [job.wrapper_exit_code() for job in jobs]
    raise typer.Exit(next((c for c in codes if c != 0), 0))


@app.command("list")
def list_(
    ctx: typer.Context,
    state_: Annotated[
        list[str] | None,
        typer.Option(
            "--state",
            click_type=choice([*State, SCHEDULED]),
            help="waiting, queued, scheduled, running, retrying, "
            "succeeded, dead or cancelled (repeatable).",
        ),
    ] = None,
    queue: Queue = None,
    since: Since = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 100,
    output: Output = None,
) -> None:
    """List jobs, newest first."""
    from jobctl.clock import utcnow
    from jobctl.errors import InvalidInput
    from jobctl.ops.shapes import job_shape

    if limit < 1:
        raise InvalidInput(f"invalid --limit {limit}: must be at least 1")
    now = utcnow()
    jobs = state(ctx).client().list(state_ or (), queue, parse.since(since, now), limit)
    if wants_json(ctx, output):
        render.print_json([job_shape(j, now) for j in jobs])
        return
    from jobctl.cli.views import job_rows

    render.print_table(
        ["id", "state", "queue", "attempts", "created", "name/command"], job_rows(jobs, now)
    )


@app.command()
def status(
    ctx: typer.Context,
    job: Annotated[str | None, typer.Argument(help="A job id: one line for that job.")] = None,
    output: Output = None,
) -> None:
    """Queues (ready, scheduled, running, retrying, failed 24h, dead, lag) and live daemons."""
    from jobctl.cli import views

    client = state(ctx).client()
    if job is not None:
        views.one_job_status(client.get(parse.job_id(job)), wants_json(ctx, output))
        return
    views.status(client.status(), wants_json(ctx, output))


@app.command()
def show(
    ctx: typer.Context, job: Annotated[str, typer.Argument(help="Job id.")], output: Output = None
) -> None:
    """Everything about a job: command, payload, attempts, last error, output tail."""
    from jobctl.cli import views

    client = state(ctx).client()
    job_id = parse.job_id(job)
    replay_of = client.store.dlq.replay_of(job_id)
    found = client.get(job_id)
    gang = client.gang(found.gang_id) if found.gang_id is not None else None
    views.show(found, client.attempts(job_id), wants_json(ctx, output), replay_of, gang)


@app.command()
def logs(
    ctx: typer.Context,
    job: Annotated[str, typer.Argument(help="Job id.")],
    attempt: Annotated[int | None, typer.Option(help="Attempt number (default: latest).")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Follow until it ends.")] = False,
) -> None:
    """The full captured stdout+stderr of an attempt."""
    from jobctl.cli.follow import follow_log, print_log

    client = state(ctx).client()
    job_id = parse.job_id(job)
    if follow:
        follow_log(client, job_id, attempt)
    else:
        print_log(client.output(job_id, attempt))


@app.command()
def retry(
    ctx: typer.Context,
    jobs: Annotated[list[str] | None, typer.Argument(help="Job ids.")] = None,
    state_: Annotated[
        str | None,
        typer.Option(
            "--state",
            click_type=choice([State.DEAD, State.RETRYING]),
            help="Retry every job in this state: dead|retrying.",
        ),
    ] = None,
    queue: Queue = None,
    confirm: Confirm = None,
) -> None:
    """Run jobs again now with a fresh attempt budget (history is kept). A job whose key a
    live job holds is skipped and reported on stderr (exit 0); the others are retried."""
    from jobctl.cli.audit import caller
    from jobctl.clock import utcnow
    from jobctl.errors import InvalidInput
    from jobctl.ops.admin import retry_jobs

    app_state = state(ctx)
    client = app_state.client()
    if jobs and state_:
        raise InvalidInput("give job ids or --state, not both")
    if state_ is not None:
        ids = client.ids_in_state([state_], queue)
    elif jobs:
        ids = parse.job_ids(jobs)
    else:
        raise InvalidInput("give job ids or --state dead|retrying")
    who = caller(ctx, confirm)
    results = retry_jobs(client.store, ids, who, utcnow(), state=state_, queue=queue)
    skipped = [r for r in results if r.skipped]
    for result in skipped:
        render.note(f"jobctl: job {result.id} skipped: {result.skipped}")
    done = [r.id for r in results if not r.skipped]
    if not app_state.quiet:
        tail = f" ({len(skipped)} skipped)" if skipped else ""
        render.note(f"retrying {len(done)} job(s){tail}")
    for job_id in done:
        render.say(str(job_id))


@app.command()
def cancel(ctx: typer.Context, jobs: JobIds, confirm: Confirm = None) -> None:
    """Cancel jobs: queued ones at once; running ones are terminated by their daemon."""
    from jobctl.cli.audit import caller
    from jobctl.clock import utcnow
    from jobctl.ops.admin import cancel_jobs

    ids = parse.job_ids(jobs)
    results = cancel_jobs(state(ctx).client().store, ids, caller(ctx, confirm), utcnow())
    for result in results:
        if result.outcome == "requested":
            render.say(f"{result.id} cancelling (running: its daemon terminates it)")
        else:
            render.say(f"{result.id} cancelled")


@app.command()
def wait(
    ctx: typer.Context,
    jobs: JobIds,
    timeout: Annotated[str | None, typer.Option(help="Give up after this (exit 75).")] = None,
) -> None:
    """Block until the jobs end; exit with the first failing job's exit code."""
    _wait_and_exit(ctx, parse.job_ids(jobs), parse.seconds(timeout, "--timeout"))


@app.command()
def explain(
    ctx: typer.Context, job: Annotated[str, typer.Argument(help="Job id.")], output: Output = None
) -> None:
    """Why this job is not running right now: one sentence plus the facts."""
    from jobctl.cli import views
    from jobctl.clock import utcnow
    from jobctl.ops.explain import explain as explain_job

    app_state = state(ctx)
    result = explain_job(app_state.client().store, app_state.config(), parse.job_id(job), utcnow())
    if wants_json(ctx, output):
        render.print_json(result.__dict__)
        return
    render.say(f"job {result.id} ({result.state}): {result.reason}")
    views.shape_fields(result.facts)
