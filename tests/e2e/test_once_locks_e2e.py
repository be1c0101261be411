"""once run / lock with real `jobctl` processes: races, kill -9, --wait, signals, guards."""

from __future__ import annotations

import contextlib
import os
import pty
import select
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.support.cli import Jobctl
from tests.support.waiting import wait_until

ON_EACH_BACKEND = True  # the `jc` tests run on SQLite and on PostgreSQL

pytestmark = pytest.mark.slow


class Wrapper:
    """A `jobctl` process started in the background; stdout/stderr go to files."""

    count = 0
    started: list[Wrapper] = []
    sessions: list[int] = []  # of CMDs: ended after each test, whatever it asserted

    def __init__(self, jc: Jobctl, args: tuple[str, ...]) -> None:
        Wrapper.count += 1
        self.out_path = jc.tmp / f"wrapper-{Wrapper.count}.out"
        self.err_path = jc.tmp / f"wrapper-{Wrapper.count}.err"
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(
                [*jc.argv0, *args], env=jc.env, cwd=jc.tmp, stdout=out, stderr=err,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        self.pid = self.proc.pid
        Wrapper.started.append(self)

    def poll(self) -> int | None:
        return self.proc.poll()

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout)

    def send_signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode

    def out(self) -> str:
        return self.out_path.read_text()

    def err(self) -> str:
        return self.err_path.read_text()


@pytest.fixture(autouse=True)
def _no_wrapper_left() -> Iterator[None]:
    yield
    for wrapper in Wrapper.started:
        if wrapper.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(wrapper.pid, signal.SIGKILL)
            wrapper.wait(10)
    Wrapper.started.clear()
    for sid in Wrapper.sessions:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(sid, signal.SIGKILL)
    Wrapper.sessions.clear()


def spawn(jc: Jobctl, *args: str) -> Wrapper:
    return Wrapper(jc, args)


def barrier(path: Path, mark: Path) -> list[str]:
    """A command that records that it ran, then waits until `path` exists."""
    return ["sh", "-c", f"echo ran >> {mark}; while [ ! -e {path} ]; do sleep 0.02; done"]


def race(jc: Jobctl, make_args, rounds: int = 20, batch: int = 4) -> None:
    """Start two wrappers of one name together, `rounds` times (`batch` names at a time):
    each time exactly one runs CMD, the other exits 75."""
    for first in range(0, rounds, batch):
        pairs = {}
        for n in range(first, first + batch):
            go, mark = jc.tmp / f"go-{n}", jc.tmp / f"ran-{n}"
            pairs[n] = [spawn(jc, *make_args(n), "--", *barrier(go, mark)) for _ in range(2)]
        for n, procs in pairs.items():
            loser = wait_until(
                lambda procs=procs: next((p for p in procs if p.poll() is not None), None),
                30, 0.01, "a loser",
            )  # fmt: skip
            assert loser.returncode == 75, (n, loser.returncode, loser.err())
            assert "running elsewhere" in loser.err() or "is held by" in loser.err()
            (jc.tmp / f"go-{n}").touch()
            winner = next(p for p in procs if p is not loser)
            assert winner.wait(30) == 0, winner.err()
            assert (jc.tmp / f"ran-{n}").read_text() == "ran\n", f"round {n}: CMD ran once"


def test_two_once_runs_started_together_run_the_command_once(jc: Jobctl) -> None:
    race(jc, lambda n: ["once", "run", f"race-{n}"])


def test_two_locks_started_together_run_one_command(jc: Jobctl) -> None:
    race(jc, lambda n: ["lock", f"race-{n}"])


def kill_wrapper_and_command(proc: Wrapper) -> None:
    """kill -9 the wrapper and its CMD (which leads its own session)."""
    wrapper = psutil.Process(proc.pid)
    children = wrapper.children(recursive=True)
    os.killpg(proc.pid, signal.SIGKILL)
    for child in children:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    proc.wait(10)
    psutil.wait_procs(children, timeout=10)


def token_of(jc: Jobctl, name: str) -> int:
    out = jc.ok("lock", name, "--", "sh", "-c", "echo $JOBCTL_LOCK_TOKEN")
    return int(out.strip())


def test_a_killed_lock_holders_lease_expires_after_its_ttl(jc: Jobctl) -> None:
    go = jc.tmp / "never"
    first = token_of(jc, "k")
    holder = spawn(jc, "lock", "k", "--ttl", "1s", "--", *barrier(go, jc.tmp / "m"))
    wait_until(lambda: [x["name"] for x in jc.json("lock", "list")] == ["k"], 15, 0.05, "held")
    held_token = jc.json("lock", "list")[0]["token"]
    kill_wrapper_and_command(holder)
    # the lease outlives its holder for up to the TTL, then the lock is free again
    wait_until(lambda: jc.run("lock", "k", "--", "true").rc == 0, 15, 0.1, "lease expiry")
    assert first < held_token < token_of(jc, "k"), "fencing tokens grow with every acquisition"


BEATING = 'echo "$$" > "$1"; sleep 600 & while :; do echo beat >> "$2"; sleep 0.05; done'


def _session(sid: int) -> list[psutil.Process]:
    """The live processes of session `sid`."""
    found = []
    for proc in psutil.process_iter(["status"]):
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            if os.getsid(proc.pid) == sid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(proc)
    return found


def _beating(jc: Jobctl, *wrapper: str) -> tuple[Wrapper, int, Path]:
    """Start `wrapper -- CMD` where CMD (a session: a shell, a background sleep and a loop)
    appends a beat to a file every 50 ms; returns the wrapper, CMD's pid and the beats file."""
    pid_file, beats = jc.tmp / "cmd.pid", jc.tmp / "beats"
    proc = spawn(jc, *wrapper, "--", "sh", "-c", BEATING, "cmd", str(pid_file), str(beats))
    wait_until(beats.exists, 15, 0.02, "CMD to run")
    cmd = int(pid_file.read_text())
    Wrapper.sessions.append(cmd)
    wait_until(lambda: len(_session(cmd)) >= 2, 15, 0.02, "CMD's background sleep")
    return proc, cmd, beats


def test_kill_9_of_the_lock_wrapper_ends_its_command_so_holders_never_overlap(
    jc: Jobctl,
) -> None:
    # Given a lock holder whose CMD keeps beating
    holder, cmd, beats = _beating(jc, "lock", "k", "--ttl", "2s")
    # When the wrapper alone is killed with SIGKILL
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(10)
    # Then CMD's whole session ends with it
    wait_until(lambda: not _session(cmd), 10, 0.02, "CMD's session to end")
    # and a second holder, once the lease has expired, never runs beside the first CMD
    second = 'echo second-start >> "$1"; sleep 0.5; echo second-end >> "$1"'
    jc.ok("lock", "k", "--wait", "30s", "--", "sh", "-c", second, "second", str(beats))
    lines = beats.read_text().split()
    during = lines[lines.index("second-start") + 1 : lines.index("second-end")]
    assert during == [], "the first CMD beat while the second holder ran"


def test_kill_9_of_the_once_wrapper_ends_its_command_and_frees_the_name(jc: Jobctl) -> None:
    holder, cmd, _ = _beating(jc, "once", "run", "m")
    assert jc.run("once", "run", "m", "--", "true").rc == 75, "it runs elsewhere"
    os.kill(holder.pid, signal.SIGKILL)
    assert holder.wait(10) == -signal.SIGKILL
    wait_until(lambda: not _session(cmd), 10, 0.02, "CMD's session to end")
    # its lease (30 s) has not expired: only CMD's end can free the name
    jc.ok("once", "run", "m", "--", "true")
    assert jc.json("once", "show", "m")["state"] == "succeeded"


def test_fencing_tokens_strictly_increase(jc: Jobctl) -> None:
    tokens = [token_of(jc, "f") for _ in range(4)]
    assert tokens == sorted(set(tokens)) and len(tokens) == 4
    assert token_of(jc, "other") == 1


def test_a_killed_once_run_does_not_block_the_name(jc: Jobctl) -> None:
    holder = spawn(jc, "once", "run", "m", "--", *barrier(jc.tmp / "never", jc.tmp / "m1"))
    wait_until((jc.tmp / "m1").exists, 15, 0.05, "the holder runs CMD")
    assert jc.run("once", "run", "m", "--", "true").rc == 75
    kill_wrapper_and_command(holder)
    assert jc.json("once", "show", "m")["state"] == "failed", "its holder died"
    jc.ok("once", "run", "m", "--", "true")
    assert jc.json("once", "show", "m")["state"] == "succeeded"


def test_once_wait_reports_done_when_the_other_run_succeeds(jc: Jobctl) -> None:
    go = jc.tmp / "go"
    holder = spawn(jc, "once", "run", "w", "--", *barrier(go, jc.tmp / "ran"))
    wait_until(lambda: (jc.tmp / "ran").exists(), 15, 0.05, "the holder runs")
    waiter = spawn(jc, "once", "run", "w", "--wait", "--", "touch", str(jc.tmp / "second"))
    assert waiter.poll() is None
    go.touch()
    assert holder.wait(30) == 0 and waiter.wait(30) == 0
    assert "already done" in waiter.out()
    assert not (jc.tmp / "second").exists()


def test_once_wait_runs_the_command_when_the_other_run_fails(jc: Jobctl) -> None:
    go = jc.tmp / "go"
    cmd = ["sh", "-c", f"touch {jc.tmp / 'ran'}; while [ ! -e {go} ]; do sleep 0.02; done; exit 3"]
    holder = spawn(jc, "once", "run", "w", "--", *cmd)
    wait_until(lambda: (jc.tmp / "ran").exists(), 15, 0.05, "the holder runs")
    waiter = spawn(jc, "once", "run", "w", "--wait", "30s", "--", "touch", str(jc.tmp / "second"))
    go.touch()
    assert holder.wait(30) == 3 and waiter.wait(30) == 0
    assert (jc.tmp / "second").exists()
    assert jc.json("once", "show", "w")["state"] == "succeeded"


def test_lock_wait_gets_the_lock_once_free_or_gives_up_with_75(jc: Jobctl) -> None:
    go = jc.tmp / "go"
    holder = spawn(jc, "lock", "w", "--", *barrier(go, jc.tmp / "ran"))
    wait_until(lambda: (jc.tmp / "ran").exists(), 15, 0.05, "the holder runs")
    res = jc.run("lock", "w", "--wait", "300ms", "--", "true")
    assert res.rc == 75 and "is held by" in res.err
    waiter = spawn(jc, "lock", "w", "--wait", "30s", "--", "touch", str(jc.tmp / "second"))
    go.touch()
    assert holder.wait(30) == 0 and waiter.wait(30) == 0
    assert (jc.tmp / "second").exists()


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 9), (signal.SIGINT, 128 + 2)])
def test_a_signal_to_the_wrapper_reaches_the_command_then_the_lock_is_released(
    jc: Jobctl, sig: int, code: int
) -> None:
    ready = jc.tmp / "ready"
    script = f'trap "exit 9" TERM; touch {ready}; while :; do sleep 0.05; done'
    if sig == signal.SIGINT:
        script = f"touch {ready}; exec sleep 60"
    proc = spawn(jc, "lock", "s", "--", "sh", "-c", script)
    wait_until(ready.exists, 15, 0.05, "CMD started")
    proc.send_signal(sig)
    assert proc.wait(15) == code
    assert jc.json("lock", "list") == []


def test_once_run_captures_output_and_passes_it_through(jc: Jobctl) -> None:
    res = jc.run("once", "run", "out", "--", "sh", "-c", "echo visible; echo oops >&2; exit 4")
    assert (res.rc, res.out, res.err) == (4, "visible\n", "oops\n")
    shown = jc.json("once", "show", "out")
    assert shown["state"] == "failed" and shown["exit_code"] == 4
    assert "visible" in shown["output_tail"] and "oops" in shown["output_tail"]
    assert Path(shown["log_path"]).read_text().count("\n") == 2
    assert shown["actor"] and shown["started_at"].endswith("Z")


def test_a_once_run_killed_by_a_signal_exits_128_plus_n(jc: Jobctl) -> None:
    assert jc.run("once", "run", "sig", "--", "sh", "-c", "kill -KILL $$").rc == 128 + 9
    assert jc.json("once", "show", "sig")["state"] == "failed"


REFUSED = [
    ("once", "reset", "g"),
    ("once", "reset", "g", "--confirm", "other"),
    ("lock", "release", "g"),
    ("lock", "release", "g", "--confirm", "other"),
    ("dlq", "purge"),
    ("dlq", "purge", "--confirm", "other"),
]


def test_guard_rails_refuse_without_the_exact_confirm(jc: Jobctl) -> None:
    jc.ok("once", "run", "g", "--", "true")
    holder = spawn(jc, "lock", "g", "--ttl", "1h", "--", *barrier(jc.tmp / "go", jc.tmp / "r"))
    wait_until(lambda: jc.json("lock", "list"), 15, 0.05, "the lock held")
    for args in REFUSED:
        # piped stdin (not a TTY), even carrying the right name, is no confirmation
        res = jc.run(*args, input=b"g\ndlq\n")
        assert res.rc == 4 and "nothing done" in res.err, (args, res)
    assert jc.json("once", "show", "g")["state"] == "succeeded"
    assert [x["name"] for x in jc.json("lock", "list")] == ["g"]
    refused = [a["action"] for a in jc.json("audit") if a["outcome"] == "refused"]
    assert refused == [f"{args[0]}.{args[1]}" for args in REFUSED], "refusals are audited"
    (jc.tmp / "go").touch()
    assert holder.wait(30) == 0


def test_once_reset_and_lock_release_with_confirm(jc: Jobctl) -> None:
    jc.ok("once", "run", "r", "--", "true")
    jc.ok("once", "reset", "r", "--confirm", "r")
    jc.ok("once", "run", "r", "--", "touch", str(jc.tmp / "again"))
    assert (jc.tmp / "again").exists()
    holder = spawn(jc, "lock", "r", "--ttl", "1h", "--", *barrier(jc.tmp / "go", jc.tmp / "x"))
    wait_until(lambda: jc.json("lock", "list"), 15, 0.05, "the lock held")
    jc.ok("lock", "release", "r", "--confirm", "r")
    jc.ok("lock", "r", "--", "true")
    assert jc.run("lock", "release", "r", "--confirm", "r").rc == 3, "not held any more"
    assert {"once.reset", "lock.release"} <= {a["action"] for a in jc.json("audit")}
    (jc.tmp / "go").touch()
    holder.wait(30)


def test_bad_input_is_a_clear_error(jc: Jobctl) -> None:
    for args, code in [
        (("lock", "t", "--ttl", "0s", "--", "true"), 2),
        (("lock", "t", "--ttl", "soon", "--", "true"), 2),
        (("once", "show", "nope"), 3),
        (("once", "reset", "nope", "--confirm", "nope"), 3),
        (("once", "apply", str(jc.tmp / "missing")), 3),
    ]:
        res = jc.run(*args)
        assert res.rc == code and res.err.count("\n") == 1, (args, res)
    assert jc.json("lock", "list") == [] and jc.json("once", "list") == []


def test_once_apply_runs_each_script_once_and_stops_at_the_first_failure(jc: Jobctl) -> None:
    migrations = jc.tmp / "migrations"
    migrations.mkdir()
    log = jc.tmp / "applied"
    for name, body in [("010-a", "exit 0"), ("020-b", "test -e $FIX || exit 5"), ("030-c", "")]:
        script = migrations / name
        script.write_text(f"#!/bin/sh\necho {name} >> {log}\n{body}\n")
        script.chmod(0o755)
    env_fix = jc.tmp / "fixed"
    jc.env["FIX"] = str(env_fix)
    res = jc.run("once", "apply", str(migrations))
    assert res.rc == 5, res
    assert "migrations/020-b: FAILED: exit 5" in res.out and "1 not run" in res.out
    env_fix.touch()
    res = jc.run("once", "apply", str(migrations))
    assert res.rc == 0, res
    assert "migrations/010-a: already done" in res.out
    assert log.read_text().split() == ["010-a", "020-b", "020-b", "030-c"]
    states = {o["name"]: o["state"] for o in jc.json("once", "list")}
    assert states == dict.fromkeys(
        ["migrations/010-a", "migrations/020-b", "migrations/030-c"], "succeeded"
    )


def test_resumable_reindex_example_resumes_after_a_failure(jc: Jobctl) -> None:
    script = Path(__file__).parents[2] / "contrib" / "examples" / "resumable-reindex.sh"
    out = jc.tmp / "reindexed"
    jc.env.update(REINDEX_TOTAL="10", REINDEX_SLICE="3", REINDEX_LOG=str(out), REINDEX_FAIL_AT="7")
    # Given a run that fails in its third slice
    args = ("once", "run", "reindex", "--resumable", "--", str(script))
    assert jc.run(*args).rc == 1
    assert jc.json("once", "show", "reindex")["checkpoint"] == "6"
    # When it runs again, resumably, without the failure
    del jc.env["REINDEX_FAIL_AT"]
    res = jc.run(*args)
    # Then it starts from the checkpoint, not from row 0
    assert res.rc == 0 and "resuming at row 6" in res.err
    assert out.read_text().split("\n")[:-1] == [
        "reindexed 0..3", "reindexed 3..6", "reindexed 6..9", "reindexed 9..10",
    ]  # fmt: skip
    assert jc.json("once", "show", "reindex")["checkpoint"] == "10"


def run_on_tty(jc: Jobctl, typed: bytes, *args: str) -> tuple[int, str]:
    """Run jobctl with stdin and stderr on a pseudo-terminal, typing `typed`."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            [*jc.argv0, *args], env=jc.env, cwd=jc.tmp, stdin=slave, stderr=slave,
            stdout=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        os.close(slave)
        slave = -1
        os.write(master, typed)
        rc = proc.wait(60)
        seen = b""
        while select.select([master], [], [], 0.2)[0]:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    return rc, seen.decode(errors="replace")


def test_a_tty_user_confirms_by_typing_the_exact_name(jc: Jobctl) -> None:
    jc.ok("once", "run", "t", "--", "true")
    rc, seen = run_on_tty(jc, b"wrong\n", "once", "reset", "t")
    assert rc == 4 and "type 't' to confirm" in seen, seen
    assert jc.json("once", "show", "t")["state"] == "succeeded"
    rc, seen = run_on_tty(jc, b"t\n", "once", "reset", "t")
    assert rc == 0, seen
    assert jc.json("once", "list") == []


def test_a_command_that_cannot_start_is_127_and_a_failed_run(jc: Jobctl) -> None:
    res = jc.run("once", "run", "nf", "--", "no-such-command-xyz")
    assert res.rc == 127 and "command not found: no-such-command-xyz" in res.err
    shown = jc.json("once", "show", "nf")
    assert shown["state"] == "failed" and "spawn failed" in shown["output_tail"]
    assert jc.run("lock", "nf", "--", "no-such-command-xyz").rc == 127
    assert jc.json("lock", "list") == []
