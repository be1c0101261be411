"""`jobctl logs`: print an attempt's output, or follow it while the job runs (from any host:
client.AttemptOutput reads the store's chunks, else the local log file)."""

from __future__ import annotations

import sys
import time

from jobctl.client import AttemptOutput, Client
from jobctl.errors import NotFound


def print_log(output: AttemptOutput) -> None:
    """Copy the output to stdout as bytes (non-UTF-8 output passes through)."""
    out = sys.stdout.buffer
    for data in output.chunks():
        out.write(data)
    out.flush()


def follow_log(client: Client, job_id: int, attempt: int | None, poll: float = 0.2) -> None:
    """Stream the latest (or given) attempt's output until the job is terminal."""
    while True:
        try:
            output = client.output(job_id, attempt)
            break
        except NotFound:
            if client.get(job_id).terminal:
                raise
            time.sleep(poll)
    out = sys.stdout.buffer
    while True:
        terminal = client.get(job_id).terminal
        while data := output.read_new(ended=terminal):
            out.write(data)
            out.flush()
        if terminal:
            return
        time.sleep(poll)
