"""kafka-lag: is this consumer group keeping up? (Nagios exit codes)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated

import typer

from jobctl.cli import parse, render
from jobctl.cli.app import app
from jobctl.cli.context import AppState, state, wants_json
from jobctl.cli.options import Output

if TYPE_CHECKING:
    from jobctl.ops.kafka_report import LagReport
    from jobctl.store.protocol import Store

PASSWORD_ENV = "JOBCTL_KAFKA_PASSWORD"

Text = Annotated[str | None, typer.Option(show_default=False)]


def _store(app_state: AppState) -> Store | None:
    """The DB that keeps the sample windows; kafka-lag still reports without it."""
    from jobctl.errors import JobctlError

    try:
        return app_state.client().store
    except JobctlError as exc:
        render.note(f"jobctl: kafka-lag: samples not recorded ({exc}); thresholds only")
        return None


def _age(seconds: float | None) -> str | None:
    from jobctl.domain.durations import format_duration

    if seconds is None:
        return None
    return "0s" if seconds == 0 else format_duration(seconds)


def _render(report: LagReport, as_json: bool, watching: bool) -> None:
    if as_json:
        render.print_json(report.shape(), one_line=watching)
    for probe in report.report.probes:
        if probe.value is None and probe.status.name == "UNKNOWN":
            render.note(f"jobctl: kafka-lag: UNKNOWN: {probe.message}")
    if as_json:
        return
    for group in report.groups:
        rows: list[list[object]] = [
            [p.topic, p.partition, p.committed, p.end, p.lag, _age(p.lag_seconds)]
            for p in group.partitions
        ]
        rows += [[t["topic"], "total", None, None, t["total_lag"], None] for t in group.topics()]
        render.print_table(
            ["topic", "partition", "committed", "end", "lag", "lag_seconds"],
            rows,
            title=f"group {group.group}: {group.verdict.status.value}: {group.verdict.reason}",
        )
    if report.groups or report.report.status.name != "UNKNOWN":
        render.say(f"KAFKA-LAG {report.report.status.name}: {len(report.groups)} group(s)")


@app.command("kafka-lag")
def kafka_lag(
    ctx: typer.Context,
    bootstrap_servers: Annotated[
        str | None,
        typer.Option(
            "--bootstrap-servers",
            envvar="JOBCTL_KAFKA_BOOTSTRAP_SERVERS",
            help="Brokers, HOST:PORT[,HOST:PORT...] (default: kafka.bootstrap_servers).",
            show_default=False,
        ),
    ] = None,
    group: Annotated[
        list[str] | None,
        typer.Option("--group", help="Consumer group (repeatable; default: all groups)."),
    ] = None,
    topic: Annotated[str | None, typer.Option("--topic", help="Only this topic.")] = None,
    queue: Annotated[
        str | None,
        typer.Option("--queue", "-Q", help="A kafka queue from config (kafka.queues)."),
    ] = None,
    warn_lag: Annotated[
        int | None, typer.Option("--warn-lag", help="WARNING when a group's total lag is over N.")
    ] = None,
    max_lag: Annotated[
        int | None, typer.Option("--max-lag", help="CRITICAL when a group's total lag is over N.")
    ] = None,
    warn_lag_seconds: Annotated[
        str | None,
        typer.Option("--warn-lag-seconds", help="WARNING when the oldest message is older."),
    ] = None,
    max_lag_seconds: Annotated[
        str | None,
        typer.Option("--max-lag-seconds", help="CRITICAL when the oldest message is older."),
    ] = None,
    watch: Annotated[
        str | None,
        typer.Option("--watch", help="Sample every D until Ctrl-C; exit with the last status."),
    ] = None,
    window: Annotated[
        str,
        typer.Option(
            "--window",
            help="Trend verdicts need samples spanning this long (else thresholds only).",
        ),
    ] = "10m",
    timeout: Annotated[
        str, typer.Option("--timeout", help="Give up on the cluster after this long.")
    ] = "10s",
    security_protocol: Annotated[
        str | None,
        typer.Option("--security-protocol", help="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."),
    ] = None,
    sasl_mechanism: Annotated[
        str | None, typer.Option("--sasl-mechanism", help="PLAIN, SCRAM-SHA-256, ...")
    ] = None,
    sasl_username: Annotated[str | None, typer.Option("--sasl-username", help="SASL user.")] = None,
    sasl_password_file: Annotated[
        str | None,
        typer.Option(
            "--sasl-password-file",
            help=f"File holding the SASL password (else env {PASSWORD_ENV}).",
        ),
    ] = None,
    output: Output = None,
) -> None:
    """Consumer lag per group/topic/partition, in messages and seconds, with a Burrow-style
    verdict over the recorded samples. Exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN."""
    from jobctl.clock import SystemClock
    from jobctl.domain.durations import iso_z
    from jobctl.domain.lag import Thresholds
    from jobctl.errors import InvalidInput
    from jobctl.ops.kafka_lag import INSTALL_HINT, check_lag, client_available
    from jobctl.ops.kafka_report import KafkaSecurity, build_request

    app_state = state(ctx)
    request = build_request(
        app_state.config().kafka,
        bootstrap_servers=bootstrap_servers,
        groups=group or (),
        topic=topic,
        queue=queue,
        thresholds=Thresholds(
            warn_lag,
            max_lag,
            parse.seconds(warn_lag_seconds, "--warn-lag-seconds"),
            parse.seconds(max_lag_seconds, "--max-lag-seconds"),
        ),
        window=parse.seconds(window, "--window") or 0.0,
        timeout=parse.seconds(timeout, "--timeout") or 0.0,
        security=KafkaSecurity(security_protocol, sasl_mechanism, sasl_username),
        password_file=sasl_password_file,
        env_password=os.environ.get(PASSWORD_ENV) or None,
    )
    interval = parse.seconds(watch, "--watch")
    if interval is not None and interval <= 0:
        raise InvalidInput(f"invalid --watch {watch!r}: must be over 0")
    as_json = wants_json(ctx, output)
    if not client_available():
        render.note(f"jobctl: {INSTALL_HINT}")
        raise typer.Exit(3)
    clock, store = SystemClock(), _store(app_state)
    code = 3
    try:
        while True:
            report = check_lag(request, clock, store)
            code = report.exit_code
            if interval is not None and not as_json:
                render.say(f"== {iso_z(clock.now())}")
            _render(report, as_json, watching=interval is not None)
            if interval is None:
                break
            clock.sleep(interval)
    except KeyboardInterrupt:
        pass
    raise typer.Exit(code)
