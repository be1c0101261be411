"""`jobctl daemon`: run jobs in the foreground (a systemd Type=notify service)."""

from __future__ import annotations

from typing import Annotated

import typer

from jobctl.cli.app import app
from jobctl.cli.context import state
from jobctl.cli.options import choice

LOG_FORMATS = ("logfmt", "json")


@app.command()
def daemon(
    ctx: typer.Context,
    concurrency: Annotated[int | None, typer.Option(help="Jobs run at once (default 8).")] = None,
    queues: Annotated[str | None, typer.Option(help="Only these queues, comma-separated.")] = None,
    http: Annotated[
        str | None, typer.Option(help="Serve the HTTP API on HOST:PORT (:PORT = 127.0.0.1).")
    ] = None,
    burst: Annotated[bool, typer.Option(help="Exit 0 once no job is ready or running.")] = False,
    lease: Annotated[str | None, typer.Option(help="Lease of a claimed job (default 30s).")] = None,
    grace: Annotated[
        str | None, typer.Option(help="On SIGTERM, wait this long for running jobs (30s).")
    ] = None,
    node: Annotated[
        str | None,
        typer.Option(envvar="JOBCTL_NODE", help="Node name (default: the host name)."),
    ] = None,
    log_format: Annotated[
        str | None,
        typer.Option(click_type=choice(LOG_FORMATS), help="logfmt or json (default logfmt)."),
    ] = None,
    misfire_grace: Annotated[
        str | None,
        typer.Option(help="A fire due longer ago than this was missed: misfire policy (60s)."),
    ] = None,
    tag: Annotated[
        list[str] | None,
        typer.Option(help="A tag of this node: it runs jobs placed --on-tag it (repeatable)."),
    ] = None,
) -> None:
    """Run the daemon in the foreground: claim ready jobs and run them."""
    from jobctl.cli import parse
    from jobctl.config.check import load_config
    from jobctl.config.locate import resolve_config_path
    from jobctl.config.model import Config
    from jobctl.errors import InvalidInput
    from jobctl.runtime.daemon import DaemonOptions
    from jobctl.runtime.service import default_node, serve

    app_state = state(ctx)
    config = app_state.config()
    conf = config.daemon
    if concurrency is not None and concurrency < 1:
        raise InvalidInput(f"invalid --concurrency {concurrency}: must be at least 1")
    fmt = log_format or conf.log_format
    if fmt not in LOG_FORMATS:  # the config's value
        raise InvalidInput(f"invalid --log-format {fmt!r}: use logfmt or json")
    lease_s = parse.seconds(lease, "--lease") if lease else conf.lease
    if lease_s is None or lease_s < 1:
        raise InvalidInput(f"invalid --lease {lease!r}: at least 1s")
    grace_s = parse.seconds(grace, "--grace")
    misfire_s = (
        parse.seconds(misfire_grace, "--misfire-grace") if misfire_grace else conf.misfire_grace
    )
    if misfire_s is None or misfire_s <= 0:
        raise InvalidInput(f"invalid --misfire-grace {misfire_grace!r}: more than 0s")
    from jobctl.domain.placement import check_name

    tags = frozenset([*conf.tags, *(check_name(t, "--tag") for t in tag or ())])
    wanted = None
    if queues:
        wanted = frozenset(q.strip() for q in queues.split(",") if q.strip())
        unknown = sorted(q for q in wanted if not config.knows_queue(q))
        if unknown:
            raise InvalidInput(f"unknown queue {unknown[0]!r} in --queues")
    if http is not None or conf.http is not None:
        from dataclasses import replace

        from jobctl.domain.listen import parse_listen

        listen = http if http is not None else str(conf.http)
        parse_listen(listen, "--http" if http is not None else "daemon.http")  # exit 2 early
        config = replace(config, daemon=replace(conf, http=listen))
    options = DaemonOptions(
        node=node or default_node(),
        concurrency=concurrency or conf.concurrency,
        queues=wanted,
        lease=lease_s,
        grace=conf.grace if grace_s is None else grace_s,
        burst=burst,
        misfire_grace=misfire_s,
        tags=tags,
    )

    def reload() -> Config:
        path, _ = resolve_config_path(app_state.config_path)
        return load_config(path) if path else Config()

    serve(app_state.db_url, config, options, fmt, app_state.client().log_dir, reload)
