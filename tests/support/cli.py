"""Run the installed `jobctl` as a real subprocess, and the real daemon as a process."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.runs import Runs
from tests.support.waiting import wait_until

TRACEBACK = "Traceback (most recent call last)"


@dataclass(frozen=True)
class Result:
    rc: int
    out: str
    err: str


def run_main(*args: str) -> Result:
    """`jobctl ARGS` in this process, through `main()` (the one error → exit-code edge), with
    the caller's environment and working directory (monkeypatch them)."""
    from jobctl.cli import main

    out, err, rc = io.StringIO(), io.StringIO(), 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else 1
    res = Result(rc, out.getvalue(), err.getvalue())
    assert TRACEBACK not in res.err, f"traceback from jobctl {args}:\n{res.err}"
    return res


class Jobctl(Runs):
    """`jobctl` with its own DB under tmp_path and a clean environment."""

    def __init__(self, tmp: Path, db_url: str | None = None) -> None:
        """`db_url`: a PostgreSQL database to use instead of the SQLite file `self.db`."""
        self.tmp = tmp
        self.db = tmp / "jobctl.db"
        self.db_url = db_url or str(self.db)
        bin_dir = Path(sys.executable).parent
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("JOBCTL_")}
        self.env.update(
            JOBCTL_DB=self.db_url,
            RUNTIME_DIRECTORY=str(tmp / "run"),  # this host's own files on PostgreSQL
            NO_COLOR="1",
            PYTHONUNBUFFERED="1",
            PATH=f"{bin_dir}{os.pathsep}{self.env.get('PATH', '')}",
        )
        self.argv0 = [sys.executable, "-m", "jobctl"]
        self.daemons: list[subprocess.Popen[bytes]] = []

    def run(
        self, *args: str, input: bytes | None = None, timeout: float = 60, cwd: Path | None = None
    ) -> Result:
        proc = subprocess.run(
            [*self.argv0, *args],
            input=input,
            capture_output=True,
            env=self.env,
            timeout=timeout,
            cwd=cwd or self.tmp,
        )
        res = Result(
            proc.returncode,
            proc.stdout.decode(errors="replace"),
            proc.stderr.decode(errors="replace"),
        )
        assert TRACEBACK not in res.err, f"traceback from jobctl {args}:\n{res.err}"
        return res

    def show(self, job_id: int) -> dict[str, Any]:
        return self.json("show", str(job_id))  # type: ignore[no-any-return]

    def wait_state(self, job_id: int, *states: str, timeout: float = 30) -> dict[str, Any]:
        return wait_until(
            lambda: (j := self.show(job_id))["state"] in states and j,
            timeout,
            0.1,
            f"job {job_id} in {states}",
        )

    def start_daemon(
        self, *args: str, registered: bool = True, cwd: Path | None = None
    ) -> subprocess.Popen[bytes]:
        """Start `jobctl daemon` (in `cwd`); with `registered`, return once it is listed in
        `status`."""
        log = open(self.tmp / f"daemon-{len(self.daemons)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [*self.argv0, "daemon", "--grace", "2s", *args],
            env=self.env,
            stdout=log,
            stderr=log,
            start_new_session=True,
            cwd=cwd,
        )
        log.close()
        self.daemons.append(proc)
        if not registered:
            return proc
        wait_until(
            lambda: self._registered(proc.pid) or proc.poll() is not None,
            15,
            0.1,
            "daemon registered",
        )
        assert proc.poll() is None, self.daemon_log(len(self.daemons) - 1)
        return proc

    def _registered(self, pid: int) -> bool:
        """Whether the daemon `pid` is in `status` (exit 3 until it has created the DB)."""
        res = self.run("-o", "json", "status")
        if res.rc == 3 and "no jobctl database" in res.err:
            return False
        assert res.rc == 0, res
        return any(d["pid"] == pid for d in json.loads(res.out)["daemons"])

    def daemon_log(self, index: int = 0) -> str:
        return (self.tmp / f"daemon-{index}.log").read_text(errors="replace")

    def stop_daemons(self) -> None:
        for proc in self.daemons:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(60)  # reaped: an unreaped Popen warns in a later test
