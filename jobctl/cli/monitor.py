"""health and smoke: monitoring reports with Nagios exit codes (0 OK, 1 WARNING,
2 CRITICAL, 3 UNKNOWN)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from jobctl.cli import render
from jobctl.cli.app import app
from jobctl.cli.context import state, wants_json
from jobctl.cli.options import Output

if TYPE_CHECKING:
    from jobctl.config.model import Config
    from jobctl.ops.report import Report


def _config_or_exit(ctx: typer.Context, output: str | None, title: str) -> Config:
    """The config; one that does not load is reported UNKNOWN (a monitor never crashes)."""
    from jobctl.errors import ConfigError
    from jobctl.ops.report import Level, Probe, Report

    try:
        return state(ctx).config()
    except ConfigError as exc:
        first = exc.problems[0] if getattr(exc, "problems", None) else str(exc)
        probe = Probe("config", Level.UNKNOWN, None, f"config invalid: {first}")
        show_report(ctx, Report.of([probe]), output, title)


def show_report(ctx: typer.Context, report: Report, output: str | None, title: str) -> NoReturn:
    """Print `report` (JSON shape or one line per probe, the overall status first) and exit
    with its Nagios code."""
    if wants_json(ctx, output):
        render.print_json(report.shape())
    else:
        counts: dict[str, int] = {}
        for p in report.probes:
            counts[p.status.name] = counts.get(p.status.name, 0) + 1
        summary = ", ".join(f"{n} {k.lower()}" for k, n in sorted(counts.items()))
        render.say(f"{title} {report.status.name}: {len(report.probes)} probe(s), {summary}")
        rows = [[p.status.name, p.name, _figure(p.value), p.message] for p in report.probes]
        render.print_table(["status", "probe", "value", "message"], rows)
    raise typer.Exit(report.exit_code)


def _figure(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    return str(value)


@app.command()
def health(
    ctx: typer.Context,
    max_lag: Annotated[
        str | None,
        typer.Option(
            metavar="D",
            help="CRITICAL when a queue's lag is over D (default 5m).",
            show_default=False,
        ),
    ] = None,
    warn_lag: Annotated[
        str | None,
        typer.Option(
            metavar="D",
            help="WARNING when a queue's lag is over D (default 1m).",
            show_default=False,
        ),
    ] = None,
    max_depth: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            min=0,
            help="CRITICAL when a queue has over N ready jobs.",
            show_default=False,
        ),
    ] = None,
    warn_depth: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            min=0,
            help="WARNING when a queue has over N ready jobs (default: its max_depth).",
            show_default=False,
        ),
    ] = None,
    max_heartbeat_age: Annotated[
        str | None,
        typer.Option(
            metavar="D",
            help="WARNING when a daemon's heartbeat is older (default: twice its interval).",
            show_default=False,
        ),
    ] = None,
    min_free_disk: Annotated[
        str | None,
        typer.Option(
            metavar="SIZE|PCT",
            help="CRITICAL under this much free disk at the DB (default 5%).",
            show_default=False,
        ),
    ] = None,
    probe: Annotated[
        list[str] | None,
        typer.Option(
            "--probe",
            metavar="NAME",
            help="Only this probe, built-in or from health.probes (repeatable).",
            show_default=False,
        ),
    ] = None,
    output: Output = None,
) -> None:
    """Probe DB, daemons, queue lag/depth, DLQ growth, missed schedules, disk, and the
    dependency probes of health.probes (Nagios codes)."""
    from dataclasses import replace

    from jobctl.clock import utcnow
    from jobctl.config.health import parse_free_disk
    from jobctl.domain.durations import parse_seconds
    from jobctl.ops.probes import health_report

    changes: dict[str, Any] = {}
    for name, value in (
        ("max_lag", max_lag),
        ("warn_lag", warn_lag),
        ("max_heartbeat_age", max_heartbeat_age),
    ):
        if value is not None:
            changes[name] = parse_seconds(value, "--" + name.replace("_", "-"))
    for name, count in (("max_depth", max_depth), ("warn_depth", warn_depth)):
        if count is not None:
            changes[name] = count
    if min_free_disk is not None:
        changes["min_free_disk"] = parse_free_disk(min_free_disk)
    config = _config_or_exit(ctx, output, "HEALTH")
    thresholds = replace(config.health, **changes)
    db_url = state(ctx).db_url
    report = health_report(db_url, config, utcnow(), thresholds, probe or ())
    show_report(ctx, report, output, "HEALTH")


@app.command()
def smoke(
    ctx: typer.Context,
    queue: Annotated[
        list[str] | None,
        typer.Option(
            "--queue", "-Q", help="Queue to send a canary through (repeatable).", show_default=False
        ),
    ] = None,
    timeout: Annotated[
        str, typer.Option(metavar="D", help="Wait this long for each canary.")
    ] = "60s",
    tolerance: Annotated[
        str, typer.Option(metavar="D", help="Allowed distance of a fire from its nominal time.")
    ] = "60s",
    output: Output = None,
) -> None:
    """Canary job per queue through the running daemon, and schedule punctuality (exit 0/2)."""
    from jobctl.clock import SystemClock
    from jobctl.domain.durations import parse_seconds
    from jobctl.errors import JobctlError
    from jobctl.ops.health import db_unusable
    from jobctl.ops.smoke import smoke as run_smoke

    wait = parse_seconds(timeout, "--timeout")
    slack = parse_seconds(tolerance, "--tolerance")
    config = _config_or_exit(ctx, output, "SMOKE")
    try:
        store = state(ctx).client().store
    except JobctlError as exc:
        show_report(ctx, db_unusable(exc), output, "SMOKE")
    report = run_smoke(store, config, SystemClock(), queue, wait, slack)
    show_report(ctx, report, output, "SMOKE")
