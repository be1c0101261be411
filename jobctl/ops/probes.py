"""Dependency probes (config `health.probes:`): run them in parallel, each within its
timeout, as `Probe`s beside jobctl's own in `health` and `/healthz`.

Every probe runs on its own (daemon) thread, so a round takes about its slowest probe,
never the sum; the runner stops waiting for a probe at its timeout (plus a little grace
for the driver to say why) and reports it failed. A probe's URL secret is read when it
runs; its password never appears in a message (drivers' errors are scrubbed too).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from jobctl.clock import Clock, SystemClock
from jobctl.config.health import HealthConfig
from jobctl.config.model import Config
from jobctl.config.probes import BUILTIN_PROBES, URL_KINDS, ProbeSpec, missing_driver, read_secret
from jobctl.domain.probes import Verdict, scrub, secrets_in, shorten
from jobctl.errors import InvalidInput
from jobctl.ops.probe_kinds import KINDS, Finding
from jobctl.ops.report import Level, Probe, Report

GRACE = 0.25  # seconds past a probe's timeout the runner waits for its own error


@dataclass(frozen=True)
class ProbeResult:
    """One probe's outcome: as a report line, whether the dependency was up, and the
    seconds the probe took (its timeout when it gave no answer)."""

    probe: Probe
    up: bool
    seconds: float


def level_of(verdict: Verdict, spec: ProbeSpec) -> Level:
    """A verdict at the probe's level: FAIL is CRITICAL, or WARNING for `level: warning`."""
    if verdict is Verdict.FAIL:
        return Level.CRITICAL if spec.level == "critical" else Level.WARNING
    return {Verdict.OK: Level.OK, Verdict.WARN: Level.WARNING}.get(verdict, Level.UNKNOWN)


class _Run:
    """One probe on its own thread."""

    def __init__(self, spec: ProbeSpec, health: HealthConfig, clock: Clock) -> None:
        self.spec, self.health, self.clock = spec, health, clock
        self.done = threading.Event()
        self.result: ProbeResult | None = None
        self.started = clock.monotonic()
        thread = threading.Thread(target=self._run, name=f"probe-{spec.name}", daemon=True)
        thread.start()

    def _run(self) -> None:
        finding, secrets = self._find()
        seconds = self.clock.monotonic() - self.started
        self.result = _result(self.spec, finding, seconds, secrets)
        self.done.set()

    def _find(self) -> tuple[Finding, list[str]]:
        spec = self.spec
        try:
            target = "" if spec.kind == "command" else read_secret(spec.target, spec.kind)
        except InvalidInput as exc:
            return Finding(Verdict.UNKNOWN, str(exc)), []
        secrets = secrets_in(target) if spec.kind in URL_KINDS else []
        try:
            return KINDS[spec.kind](spec, target, self.clock.now(), self.health), secrets
        except ImportError:
            return Finding(Verdict.UNKNOWN, missing_driver(spec.kind)), secrets
        except Exception as exc:
            return Finding(Verdict.FAIL, f"{_where(spec, target)}: {_reason(exc)}"), secrets

    def wait(self) -> ProbeResult:
        """The result, or FAIL when none came within the timeout (and the grace)."""
        left = self.started + self.spec.timeout + GRACE - self.clock.monotonic()
        if self.done.wait(max(0.0, left)) and self.result is not None:
            return self.result
        finding = Finding(Verdict.FAIL, f"no answer within {self.spec.timeout:g}s")
        return _result(self.spec, finding, self.spec.timeout, [])


def _result(spec: ProbeSpec, finding: Finding, seconds: float, secrets: list[str]) -> ProbeResult:
    message = shorten(scrub(finding.message, secrets))
    value = finding.value if finding.value is not None else round(seconds, 3)
    probe = Probe(spec.name, level_of(finding.verdict, spec), value, message)
    return ProbeResult(probe, finding.verdict.up, round(seconds, 6))


def _where(spec: ProbeSpec, target: str) -> str:
    """What the probe tried to reach, without secrets: host:port of a URL, the address,
    the path or the command."""
    if spec.kind == "command":
        return spec.argv[0]
    if spec.kind in URL_KINDS:
        parts = urlsplit(target)
        host = parts.hostname or spec.target.describe()
        return f"{spec.kind} at {host}:{parts.port}" if parts.port else f"{spec.kind} at {host}"
    return f"{spec.kind} {target}"


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) if isinstance(exc, OSError) else None
    return " ".join((text or str(exc) or type(exc).__name__).split())


class Round:
    """Probes started together; `results()` waits for each up to its deadline."""

    def __init__(
        self, specs: Sequence[ProbeSpec], health: HealthConfig, clock: Clock | None = None
    ) -> None:
        clock = clock or SystemClock()
        self.runs = [_Run(spec, health, clock) for spec in specs]

    def results(self) -> list[ProbeResult]:
        return [run.wait() for run in self.runs]


def run_probes(
    specs: Sequence[ProbeSpec], health: HealthConfig, clock: Clock | None = None
) -> list[ProbeResult]:
    """Run `specs` in parallel; in about the time of the slowest (at most the longest
    timeout plus GRACE). Never raises."""
    return Round(specs, health, clock).results()


class ProbeCache:
    """The dependency probes of the daemon's `/healthz` and `/metrics`, run at most once
    per `ttl` seconds however often they are asked for. The first caller waits for the
    first round; afterwards every caller gets the latest round at once, and a round older
    than `ttl` is refreshed in the background (one at a time). `ttl` 0: a round per call."""

    def __init__(
        self, specs: Sequence[ProbeSpec], health: HealthConfig, ttl: float, clock: Clock
    ) -> None:
        self.specs, self.health, self.ttl, self.clock = tuple(specs), health, ttl, clock
        self.rounds = 0  # rounds started (tests and the bench count them)
        self._results: list[ProbeResult] | None = None
        self._at = 0.0
        self._running = False
        self._cond = threading.Condition()

    def results(self) -> list[ProbeResult]:
        if not self.specs:
            return []
        if self.ttl <= 0:
            with self._cond:
                self.rounds += 1
            return run_probes(self.specs, self.health, self.clock)
        with self._cond:
            self._refresh_if_stale()
            while self._results is None:
                self._cond.wait()
            return self._results

    def warm(self) -> None:
        """Start the first round now (the daemon does, so the first poll finds results)."""
        with self._cond:
            if self.specs and self.ttl > 0:
                self._refresh_if_stale()

    def _refresh_if_stale(self) -> None:
        stale = self._results is None or self.clock.monotonic() - self._at >= self.ttl
        if stale and not self._running:
            self._running = True
            self.rounds += 1
            threading.Thread(target=self._refresh, name="probe-cache", daemon=True).start()

    def _refresh(self) -> None:
        results = run_probes(self.specs, self.health, self.clock)
        with self._cond:
            self._results, self._at, self._running = results, self.clock.monotonic(), False
            self._cond.notify_all()


def health_report(
    db_url: str,
    config: Config,
    now: datetime,
    thresholds: HealthConfig | None = None,
    picked: Sequence[str] = (),
) -> Report:
    """`jobctl health`: jobctl's own probes (ops.health) and the dependency probes, run at
    the same time; with `picked`, only the probes of those names (only dependency probes
    picked: the DB is not opened). InvalidInput for a name no probe has."""
    from jobctl.ops.health import check_url

    t = thresholds or config.health
    names = set(picked)
    specs = [s for s in t.probes if not names or s.name in names]
    started = Round(specs, t)
    own: tuple[Probe, ...] = ()
    if not names or names - {s.name for s in t.probes}:
        own = check_url(db_url, config, now, t).probes
    unknown = names - {p.name for p in own} - {s.name for s in t.probes} - set(BUILTIN_PROBES)
    if unknown:
        known = sorted({*BUILTIN_PROBES, *(p.name for p in own), *(s.name for s in t.probes)})
        raise InvalidInput(f"unknown probe {sorted(unknown)[0]!r} (known: {', '.join(known)})")
    shown = [p for p in own if not names or p.name in names]
    return Report.of([*shown, *(r.probe for r in started.results())])
