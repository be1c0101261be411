"""The executor against real subprocesses: outcomes, payload and environment, capped logs,
timeouts and cancels that kill whole trees, leftovers of exited jobs, many attempts at once."""

from __future__ import annotations

import gc
import hashlib
import os
import random
import re
import resource
import shlex
import signal
import sys
import threading
import time
from collections.abc import Hashable, Iterator
from pathlib import Path

import psutil
import pytest

from jobctl.runtime.executor import (
    AttemptResult,
    Executor,
    Launch,
    kill_tree,
    process_start_ticks,
)
from jobctl.runtime.logcap import CappedLog
from tests.support.waiting import wait_until

PY = sys.executable
ENV = {"PATH": os.environ.get("PATH", os.defpath), "LC_ALL": "C"}


class ShiftedClock:
    """The real monotonic clock, plus whatever the test skips ahead."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


@pytest.fixture
def clock() -> ShiftedClock:
    return ShiftedClock()


@pytest.fixture
def executor(clock: ShiftedClock) -> Iterator[Executor]:
    ex = Executor(clock)
    yield ex
    ex.close()


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    return tmp_path / "logs" / "000001"  # does not exist yet: the executor creates it


def job(logs: Path, argv: list[str], name: str = "a", **kw: object) -> Launch:
    kw.setdefault("env", dict(ENV))
    return Launch(argv=argv, log_path=logs / f"{name}.log", **kw)  # type: ignore[arg-type]


def sh(script: str) -> list[str]:
    return ["/bin/sh", "-c", script]


def collect(ex: Executor, n: int, timeout: float = 15.0) -> dict[Hashable, AttemptResult]:
    """Poll until n attempts completed (join, don't sleep)."""
    results: dict[Hashable, AttemptResult] = {}
    deadline = time.monotonic() + timeout
    while len(results) < n:
        assert time.monotonic() < deadline, f"only {sorted(map(str, results))} of {n} completed"
        results.update(ex.poll(0.5))
    return results


def run(ex: Executor, launch: Launch) -> AttemptResult:
    ex.start("k", launch)
    return collect(ex, 1)["k"]


def unique_sleep() -> str:
    """A `sleep` argument no other process on the machine has: tags a test's processes."""
    return f"1000.{random.randrange(10**9):09d}"


def survivors(tag: str) -> list[str]:
    """Live (non-zombie) processes whose command line holds `tag`."""
    found = []
    for p in psutil.process_iter(["cmdline", "status"]):
        cmdline = " ".join(p.info["cmdline"] or ())
        if tag in cmdline and p.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(f"{p.pid}: {cmdline}")
    return found


def sleepers(tag: str) -> int:
    """How many `sleep TAG` processes run (not the shells whose scripts mention TAG)."""
    return sum(p.info["cmdline"] == ["sleep", tag] and p.info["status"] != psutil.STATUS_ZOMBIE
               for p in psutil.process_iter(["cmdline", "status"]))  # fmt: skip


def started(ex: Executor, tag: str, count: int) -> None:
    """Wait (pumping the executor) until `count` `sleep TAG` processes run."""
    wait_until(lambda: ex.poll(0.0) == [] and sleepers(tag) >= count,
               what=f"{count} x sleep {tag}")  # fmt: skip


# --- outcomes ------------------------------------------------------------------------------
def test_stdout_and_stderr_are_captured_interleaved_as_raw_bytes(
    executor: Executor, logs: Path
) -> None:
    # Given a job alternating stdout and stderr writes, with bytes that are not UTF-8
    code = (
        "import os\n"
        "for i in range(3):\n os.write(1, b'out%d\\n' % i)\n os.write(2, b'\\xff%d\\n' % i)"
    )
    expected = b"".join(b"out%d\n\xff%d\n" % (i, i) for i in range(3))
    # When it runs
    result = run(executor, job(logs, [PY, "-c", code]))
    # Then the log holds exactly its output, in order, bytes untouched
    assert (logs / "a.log").read_bytes() == expected
    assert result.output_tail == expected and result.output_bytes == len(expected)
    assert (result.exit_code, result.signal, result.spawn_error) == (0, None, None)
    assert not result.timed_out and not result.cancelled
    assert result.pid and result.pid_start and result.duration > 0


def test_a_non_zero_exit_code_is_reported(executor: Executor, logs: Path) -> None:
    result = run(executor, job(logs, sh("echo failing; exit 3")))
    assert (result.exit_code, result.signal) == (3, None)
    assert result.output_tail == b"failing\n"


def test_death_by_signal_reports_the_signal_and_no_exit_code(
    executor: Executor, logs: Path
) -> None:
    result = run(executor, job(logs, sh("kill -9 $$")))
    assert (result.exit_code, result.signal, result.timed_out) == (None, 9, False)


def test_rusage_of_the_main_process_is_reported(executor: Executor, logs: Path) -> None:
    # Linux charges a child the spawning process's peak RSS too (its exec replaces an address
    # space that was, or was copied from, the parent's): so the big job touches 150 MiB more
    # than this test process's own peak, however large this worker has grown in a long run.
    mine = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss << 10
    size = (mine >> 20) + 150
    # Given a job that touches that much and burns 0.2 s of CPU, and one that does nothing
    code = (
        f"import time\nb = b'x' * ({size} << 20)\nt = time.process_time()\n"
        "while time.process_time() - t < 0.2: pass"
    )
    executor.start("big", job(logs, [PY, "-c", code], "big"))
    executor.start("small", job(logs, ["true"], "small"))
    results = collect(executor, 2)
    big, small = results["big"], results["small"]
    # Then peak RSS and CPU time come from wait4: the big job's own, above the trivial one's
    # (which is at most this process's peak)
    assert big.max_rss is not None and small.max_rss is not None
    assert big.max_rss >= size << 20 and big.max_rss > small.max_rss
    assert big.cpu_seconds is not None and big.cpu_seconds >= 0.15


# --- spawn errors ---------------------------------------------------------------------------
def _not_executable(tmp_path: Path) -> str:
    path = tmp_path / "jobctl-noexec"
    path.write_text("#!/bin/sh\necho hi\n")
    path.chmod(0o644)
    return str(path)


@pytest.mark.parametrize(
    ("argv", "cwd", "error"),
    [
        (["nosuchcmd-jobctl"], None, "command not found: nosuchcmd-jobctl"),
        (["nosuchcmd-jobctl"], "/", "command not found: nosuchcmd-jobctl"),
        (["/nonexistent/jobctl"], None, "command not found: /nonexistent/jobctl"),
        (["SCRIPT"], None, "not executable: SCRIPT"),
        (["SCRIPT"], "/", "not executable: SCRIPT"),
        (["true"], "/nonexistent/jobctl", "no such directory: /nonexistent/jobctl"),
        ([], None, "empty command"),
    ],
    ids=["missing", "missing-cwd", "missing-path", "not-exec", "not-exec-cwd", "bad-cwd", "empty"],
)
def test_spawn_errors_are_results_not_exceptions(
    executor: Executor, logs: Path, tmp_path: Path, argv: list[str], cwd: str | None, error: str
) -> None:
    script = _not_executable(tmp_path)
    argv = [script if a == "SCRIPT" else a for a in argv]
    assert executor.start("k", job(logs, argv, cwd=cwd)) is None
    assert len(executor) == 1 and executor.running() == {}
    (key, result), *rest = executor.poll(5.0)
    assert key == "k" and not rest
    assert result.spawn_error == error.replace("SCRIPT", script)
    assert (result.exit_code, result.signal, result.pid, result.max_rss) == (None,) * 4
    assert (result.output_bytes, result.output_tail) == (0, b"")
    assert "spawn failed" in (logs / "a.log").read_text()
    assert len(executor) == 0


def test_a_non_executable_file_on_path_is_named(
    executor: Executor, logs: Path, tmp_path: Path
) -> None:
    script = _not_executable(tmp_path)
    env = {"PATH": f"{tmp_path}:{ENV['PATH']}"}
    executor.start("k", job(logs, ["jobctl-noexec"], env=env))
    assert collect(executor, 1)["k"].spawn_error == f"not executable: {script}"


@pytest.mark.parametrize("use_cwd", [False, True], ids=["no-cwd", "cwd"])
def test_a_command_that_moved_on_path_is_found_again(
    executor: Executor, logs: Path, tmp_path: Path, use_cwd: bool
) -> None:
    # Given a command found (and remembered) in one PATH directory
    first, second = tmp_path / "first", tmp_path / "second"
    for directory, word in ((first, "one"), (second, "two")):
        directory.mkdir()
        (directory / "jobctl-cmd").write_text(f"#!/bin/sh\necho {word}\n")
        (directory / "jobctl-cmd").chmod(0o755)
    env = {**ENV, "PATH": f"{first}:{second}:{ENV['PATH']}"}
    cwd = str(tmp_path) if use_cwd else None
    assert run(executor, job(logs, ["jobctl-cmd"], env=env, cwd=cwd)).output_tail == b"one\n"
    # When it disappears from there, the next lookup finds the other one
    (first / "jobctl-cmd").unlink()
    executor.start("k2", job(logs, ["jobctl-cmd"], "b", env=env, cwd=cwd))
    assert collect(executor, 1)["k2"].output_tail == b"two\n"
    # And one gone from everywhere is not found (not the remembered path's error)
    (second / "jobctl-cmd").unlink()
    executor.start("k3", job(logs, ["jobctl-cmd"], "c", env=env, cwd=cwd))
    assert collect(executor, 1)["k3"].spawn_error == "command not found: jobctl-cmd"


def test_a_key_in_flight_cannot_be_started_twice(executor: Executor, logs: Path) -> None:
    executor.start("k", job(logs, ["true"]))
    with pytest.raises(ValueError, match="in flight"):
        executor.start("k", job(logs, ["true"], "b"))
    collect(executor, 1)


# --- what the job is given ------------------------------------------------------------------
@pytest.mark.parametrize("use_cwd", [False, True], ids=["no-cwd", "cwd"])
def test_payload_on_stdin_environment_and_cwd_are_honoured(
    executor: Executor, logs: Path, tmp_path: Path, use_cwd: bool
) -> None:
    # Given a payload larger than any pipe buffer, a complete environment and maybe a cwd
    payload = random.Random(1).randbytes(3 << 20)
    env = {**ENV, "FOO": "bär"}
    work = tmp_path / "work"
    work.mkdir()
    code = (
        "import hashlib, os, sys\n"
        "print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())\n"
        "print(sorted(os.environ.items()))\nprint(os.getcwd())"
    )
    # When the job runs
    result = run(executor, job(logs, [PY, "-c", code], stdin=payload, env=env,
                               cwd=str(work) if use_cwd else None))  # fmt: skip
    # Then it read the whole payload, saw exactly that environment, ran in that directory
    digest, environ, cwd = result.output_tail.decode().splitlines()
    assert result.exit_code == 0
    assert digest == hashlib.sha256(payload).hexdigest()
    assert environ == str(sorted(env.items()))
    assert cwd == (str(work) if use_cwd else os.getcwd())
    gc.collect()  # a Popen left unreaped would warn (and fail under -W error) here


def test_pid_and_start_ticks_identify_the_process(executor: Executor, logs: Path) -> None:
    tag = unique_sleep()
    pid, pid_start = executor.start("k", job(logs, ["sleep", tag])) or (0, 0)
    assert executor.running() == {"k": (pid, pid_start)} and len(executor) == 1
    assert pid_start == process_start_ticks(pid)
    boot = psutil.boot_time() + pid_start / os.sysconf("SC_CLK_TCK")
    assert abs(psutil.Process(pid).create_time() - boot) < 1.0
    assert psutil.Process(pid).pid == os.getpgid(pid) == os.getsid(pid)  # leads its session
    executor.cancel("k")
    result = collect(executor, 1)["k"]
    assert (result.pid, result.pid_start) == (pid, pid_start)
    assert executor.running() == {} and len(executor) == 0
    assert process_start_ticks(2**22 + 1) is None  # above any pid_max


def test_begin_reads_the_start_ticks_later_even_once_the_process_is_reaped(
    executor: Executor, logs: Path
) -> None:
    """begin() does not wait on /proc for a child still starting; pid_start(key) reads it
    later: in flight, or (a short job) from before its reaping, after poll() returned it."""
    tag = unique_sleep()
    long_pid = executor.begin("long", job(logs, ["sleep", tag], "long"))
    short_pid = executor.begin("short", job(logs, ["true"], "short"))
    assert long_pid and short_pid
    alive = process_start_ticks(short_pid)  # unreaped (maybe a zombie): still readable
    results = collect(executor, 1)
    assert results["short"].pid_start == alive and alive
    assert executor.pid_start("short") == alive  # asked after poll() returned it
    assert executor.pid_start("short") is None  # once: nothing kept for it any more
    long_ticks = process_start_ticks(long_pid)
    assert executor.pid_start("long") == long_ticks and long_ticks
    assert executor.running() == {"long": (long_pid, long_ticks)}
    assert executor.begin("bad", job(logs, ["jobctl-no-such-command"], "bad")) is None
    executor.cancel("long")
    ended = collect(executor, 2)
    assert ended["long"].pid_start == long_ticks and ended["bad"].spawn_error


# --- timeouts, cancels, leftovers -------------------------------------------------------------
def _tree(tag: str) -> list[str]:
    """A shell whose grandchildren sleep: one in its group, one that called setsid and let go
    of the output pipe (so only the snapshot of descendants can find it)."""
    escapee = (
        f"import subprocess as s; s.Popen(['sleep', '{tag}'], start_new_session=True,"
        " stdout=s.DEVNULL, stderr=s.DEVNULL).wait()"
    )
    return sh(f"(sleep {tag}; :) & {shlex.quote(PY)} -c {shlex.quote(escapee)} & wait")


def test_timeout_kills_the_whole_tree_including_a_setsid_grandchild(
    executor: Executor, logs: Path, clock: ShiftedClock
) -> None:
    # Given a running tree: sh → subshell → sleep, and sh → python → setsid sleep
    tag = unique_sleep()
    executor.start("k", job(logs, _tree(tag), timeout=60.0, kill_grace=30.0))
    started(executor, tag, 2)  # both sleeps run
    # When its time limit passes
    clock.offset += 61.0
    result = collect(executor, 1)["k"]
    # Then the attempt timed out, and nothing of the tree survives (SIGTERM sufficed)
    assert result.timed_out and not result.cancelled
    assert (result.exit_code, result.signal) == (None, signal.SIGTERM)
    assert survivors(tag) == []


def test_timeout_escalates_to_sigkill_after_the_grace(
    executor: Executor, logs: Path, clock: ShiftedClock
) -> None:
    # Given a job (and its child) that ignore SIGTERM
    tag = unique_sleep()
    executor.start("k", job(logs, sh(f"trap '' TERM; sleep {tag}; :"), timeout=60.0,
                            kill_grace=0.3))  # fmt: skip
    started(executor, tag, 1)
    clock.offset += 61.0
    result = collect(executor, 1)["k"]
    assert result.timed_out and result.signal == signal.SIGKILL and result.exit_code is None
    assert survivors(tag) == []


def test_cancel_terminates_a_running_attempt(executor: Executor, logs: Path) -> None:
    tag = unique_sleep()
    executor.start("k", job(logs, _tree(tag)))
    started(executor, tag, 2)
    executor.cancel("k")
    executor.cancel("k")  # twice is fine
    executor.cancel("unknown")  # no-op
    result = collect(executor, 1)["k"]
    assert result.cancelled and not result.timed_out and result.signal == signal.SIGTERM
    assert survivors(tag) == []
    executor.cancel("k")  # finished: no-op


_POPEN = "import subprocess as s; s.Popen(['sleep', '{tag}']{extra}); print('started')"


@pytest.mark.parametrize(
    "leftover",
    [
        sh("sleep {tag} & echo started"),  # in the job's group, holding the output pipe
        [PY, "-c", _POPEN.replace("{extra}", ", stdout=s.DEVNULL, stderr=s.DEVNULL")],  # group
        [PY, "-c", _POPEN.replace("{extra}", ", start_new_session=True")],  # holds the pipe
    ],
    ids=["holds-pipe", "let-go-of-pipe", "setsid-holds-pipe"],
)
def test_leftovers_of_an_exited_job_are_killed_and_the_attempt_completes(
    executor: Executor, logs: Path, leftover: list[str]
) -> None:
    # Given a job that exits at once, leaving a process behind (a long grace: SIGTERM must do)
    tag = unique_sleep()
    argv = [a.replace("{tag}", tag) for a in leftover]
    # When it runs
    result = run(executor, job(logs, argv, kill_grace=30.0))
    # Then the attempt completes with the job's own status, and the leftover is gone
    assert (result.exit_code, result.signal, result.cancelled) == (0, None, False)
    assert result.output_tail == b"started\n"
    assert survivors(tag) == []


def test_shutdown_terminates_everything_and_reports_it_cancelled(
    executor: Executor, logs: Path
) -> None:
    tag = unique_sleep()
    executor.start(1, job(logs, ["sleep", tag], "1"))
    executor.start(2, job(logs, sh(f"trap '' TERM; sleep {tag}; :"), "2"))
    started(executor, tag, 2)
    results = dict(executor.shutdown(0.3))
    assert sorted(results) == [1, 2] and all(r.cancelled for r in results.values())
    assert results[1].signal == signal.SIGTERM and results[2].signal == signal.SIGKILL
    assert survivors(tag) == [] and len(executor) == 0


def test_close_kills_what_still_runs(logs: Path) -> None:
    tag = unique_sleep()
    ex = Executor()
    ex.start("k", job(logs, ["sleep", tag]))
    ex.close()
    ex.close()
    assert survivors(tag) == []
    ex.wake()  # harmless after close


def test_kill_tree_terminates_an_orphaned_tree(tmp_path: Path) -> None:
    # Given a tree the executor does not know (a predecessor's orphan), one part ignoring TERM
    tag = unique_sleep()
    script = _tree(tag)[2] + f" & (trap '' TERM; sleep {tag}; :) & wait"
    proc = psutil.Popen(sh(script), start_new_session=True)
    wait_until(lambda: sleepers(tag) >= 3, what="the tree")
    # When it is killed with a short grace
    kill_tree(proc.pid, 0.3)
    # Then nothing of it is left
    assert proc.wait(5) == -signal.SIGTERM
    assert survivors(tag) == []


# --- output volume, concurrency, wake-ups -----------------------------------------------------
def test_huge_output_keeps_the_tail_within_the_cap(executor: Executor, logs: Path) -> None:
    # Given a job printing 30 MiB of random bytes and a 1 MiB cap
    size, cap = 30 << 20, 1 << 20
    code = f"import random, sys; sys.stdout.buffer.write(random.Random(7).randbytes({size}))"
    executor.start("k", job(logs, [PY, "-c", code], log_cap=cap))
    log, old = logs / "a.log", logs / "a.log.1"
    results: list[tuple[Hashable, AttemptResult]] = []
    while not results:  # disk use stays under the cap (+ the marker line) all along
        results = executor.poll(0.05)
        on_disk = sum(p.stat().st_size for p in (log, old) if p.exists())
        assert on_disk <= cap + 64
    (_, result), = results  # fmt: skip
    # Then the log is a marker line and the exact tail of the output
    expected = random.Random(7).randbytes(size)
    data = log.read_bytes()
    marker = re.match(rb"\[jobctl: (\d+) bytes of earlier output dropped\]\n", data)
    assert marker is not None
    kept = data[marker.end() :]
    assert cap // 2 <= len(kept) <= cap
    assert int(marker.group(1)) + len(kept) == size
    assert kept == expected[-len(kept) :]
    assert result.output_bytes == size and result.output_tail == expected[-4096:]
    assert sorted(p.name for p in logs.iterdir()) == ["a.log"]


@pytest.mark.parametrize(("cap", "size"), [(10_000, 200_000), (10_000, 9_000), (0, 50_000)])
def test_capped_log_keeps_an_exact_tail_whatever_the_write_sizes(
    tmp_path: Path, cap: int, size: int
) -> None:
    # Given output arriving in chunks of awkward sizes (around and across the rotation point)
    rng = random.Random(3)
    data = rng.randbytes(size)
    log = CappedLog(tmp_path / "x.log", cap)
    pos = 0
    while pos < size:
        n = rng.choice([1, 7, 100, 4999, 5000, 5001, 30_000])
        log.write(data[pos : pos + n])
        pos += n
    log.close()
    log.close()  # idempotent
    # Then the file is the whole output, or a marker and at least half a cap of exact tail
    text = (tmp_path / "x.log").read_bytes()
    assert (log.total, log.tail()) == (size, data[-4096:])
    if not cap or size <= cap:  # nothing dropped (though perhaps rotated once)
        assert text == data
    else:
        marker = re.match(rb"\[jobctl: (\d+) bytes of earlier output dropped\]\n", text)
        assert marker is not None
        kept = text[marker.end() :]
        assert cap // 2 <= len(kept) <= cap and kept == data[-len(kept) :]
        assert int(marker.group(1)) == size - len(kept)
    assert [p.name for p in tmp_path.iterdir()] == ["x.log"]


def test_many_attempts_run_at_once_and_complete_independently(
    executor: Executor, logs: Path
) -> None:
    # Given six jobs that run concurrently, finishing in reverse order of start
    for i in range(6):
        executor.start(i, job(logs, sh(f"sleep 0.{6 - i}; echo {i}; exit {i}"), str(i)))
    assert len(executor.running()) == 6
    # Then each result belongs to its own job
    results = collect(executor, 6)
    for i in range(6):
        assert (results[i].exit_code, results[i].output_tail) == (i, f"{i}\n".encode())
        assert (logs / f"{i}.log").read_bytes() == f"{i}\n".encode()
    assert len(executor) == 0


def test_poll_returns_as_soon_as_an_attempt_completes(executor: Executor, logs: Path) -> None:
    executor.start("k", job(logs, ["true"]))
    began = time.monotonic()
    results: list[tuple[Hashable, AttemptResult]] = []
    while not results:
        results = executor.poll(30.0)
    assert time.monotonic() - began < 10.0
    assert results[0][0] == "k"


def test_wake_from_another_thread_interrupts_poll(executor: Executor) -> None:
    timer = threading.Timer(0.1, executor.wake)
    timer.start()
    began = time.monotonic()
    assert executor.poll(30.0) == []
    assert time.monotonic() - began < 10.0
    timer.join()
