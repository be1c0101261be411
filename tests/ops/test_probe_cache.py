"""The daemon's probe cache: however often /healthz and /metrics ask, each probe runs at
most once per `health.cache`; callers never wait for a refresh once a round exists."""

from __future__ import annotations

import threading
from pathlib import Path

from jobctl.config.health import HealthConfig
from jobctl.config.probes import ProbeSpec
from jobctl.ops.probes import ProbeCache
from tests.support.clock import ManualClock
from tests.support.waiting import wait_until


def _counting(tmp_path: Path) -> tuple[ProbeSpec, Path]:
    count = tmp_path / "runs"
    return ProbeSpec("count", "command", argv=("sh", "-c", f"echo run >> {count}")), count


def _runs(count: Path) -> int:
    return len(count.read_text().splitlines()) if count.exists() else 0


def test_many_callers_in_one_period_run_each_probe_once(tmp_path: Path) -> None:
    # Given a cache of 5 s over a probe that counts its runs
    spec, count = _counting(tmp_path)
    clock = ManualClock()
    cache = ProbeCache([spec], HealthConfig(), 5.0, clock)
    # When 40 threads ask at once, then 200 more calls come within the period
    threads = [threading.Thread(target=cache.results) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for _ in range(200):
        clock.advance(0.02)  # 4 s of polling at 50 per second
        assert cache.results()[0].probe.name == "count"
    # Then the probe ran once
    assert (cache.rounds, _runs(count)) == (1, 1)


def test_a_stale_round_is_refreshed_in_the_background_once(tmp_path: Path) -> None:
    spec, count = _counting(tmp_path)
    clock = ManualClock()
    cache = ProbeCache([spec], HealthConfig(), 5.0, clock)
    first = cache.results()
    clock.advance(5)
    # a stale round is answered at once (the previous results) and refreshed once
    answers = [cache.results() for _ in range(50)]
    assert answers[0] is first
    wait_until(lambda: _runs(count) == 2, 10, what="the refresh")
    wait_until(lambda: cache.results() is not first, 10, what="the new round")
    assert cache.rounds == 2


def test_warm_starts_the_first_round_and_no_probes_means_no_rounds(tmp_path: Path) -> None:
    spec, count = _counting(tmp_path)
    cache = ProbeCache([spec], HealthConfig(), 5.0, ManualClock())
    cache.warm()
    wait_until(lambda: _runs(count) == 1, 10, what="the first round")
    assert cache.results()[0].up
    empty = ProbeCache([], HealthConfig(), 5.0, ManualClock())
    empty.warm()
    assert (empty.results(), empty.rounds) == ([], 0)


def test_cache_zero_runs_a_round_per_call(tmp_path: Path) -> None:
    spec, count = _counting(tmp_path)
    cache = ProbeCache([spec], HealthConfig(), 0, ManualClock())
    for _ in range(3):
        cache.results()
    assert (cache.rounds, _runs(count)) == (3, 3)
