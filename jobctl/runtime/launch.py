"""From a claimed job to what the executor needs: argv, environment, log file."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from jobctl.config.identity import login_env
from jobctl.domain.job import Job
from jobctl.runtime import orphans
from jobctl.runtime.executor import Launch

GANG_ENV = ("JOBCTL_GANG_ID", "JOBCTL_GANG_RANK", "JOBCTL_GANG_SIZE", "JOBCTL_GANG_EPOCH")


@dataclass(frozen=True)
class LaunchContext:
    db: str  # JOBCTL_DB given to jobs
    node: str
    log_dir: Path
    log_cap: int
    base_env: dict[str, str]


def log_path(log_dir: Path, job_id: int, attempt: int) -> Path:
    """Logs are sharded by thousands of job ids: logs/000012/12345.1.log."""
    return log_dir / f"{job_id // 1000:06d}" / f"{job_id}.{attempt}.log"


def job_env(job: Job, ctx: LaunchContext) -> dict[str, str]:
    """The daemon's environment (a job run as another user: a clean one, never the daemon's),
    then the job's own --env, then the JOBCTL_* variables."""
    env = login_env(job.user, ctx.base_env) if job.user is not None else dict(ctx.base_env)
    env.update(job.env)
    env.update(
        {
            "JOBCTL_JOB_ID": str(job.id),
            "JOBCTL_ATTEMPT": str(job.attempts),
            "JOBCTL_QUEUE": job.queue,
            "JOBCTL_PAYLOAD": json.dumps(job.payload),
            "JOBCTL_DB": ctx.db,
            "JOBCTL_NODE": ctx.node,
            # findable by a successor from the moment it exists (runtime/orphans.py)
            orphans.MARKER: orphans.Run(job.lease_owner or "", job.id, job.attempts).marker(),
        }
    )
    if job.checkpoint is not None:
        env["JOBCTL_CHECKPOINT"] = job.checkpoint
    else:
        env.pop("JOBCTL_CHECKPOINT", None)
    for name in GANG_ENV:
        env.pop(name, None)
    if job.gang_id is not None:  # a gang's member (store/repos/gangs.py)
        env.update(
            {
                "JOBCTL_GANG_ID": str(job.gang_id),
                "JOBCTL_GANG_RANK": str(job.gang_rank),
                "JOBCTL_GANG_SIZE": str(job.gang_size),
                # the gang's epoch is its members' attempt number: `checkpoint set` sends it
                "JOBCTL_GANG_EPOCH": str(job.attempts),
            }
        )
    return env


def build_launch(job: Job, ctx: LaunchContext, kill_grace: float = 5.0) -> Launch:
    assert job.command, "handler jobs do not launch processes"
    payload = b"" if job.payload is None else json.dumps(job.payload).encode()
    return Launch(
        argv=list(job.command),
        env=job_env(job, ctx),
        log_path=log_path(ctx.log_dir, job.id, job.attempts),
        cwd=job.cwd,
        stdin=payload,
        timeout=job.timeout,
        kill_grace=kill_grace,
        log_cap=ctx.log_cap,
        user=job.user,
        group=job.group,
    )


def daemon_base_env() -> dict[str, str]:
    """The daemon's environment minus what belongs to the daemon itself."""
    drop = (
        "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID",
        orphans.MARKER,  # a daemon started from a job is not that job
    )  # fmt: skip
    return {k: v for k, v in os.environ.items() if k not in drop}
