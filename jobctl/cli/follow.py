"""`jobctl logs`: print an attempt's log, or follow it while the job runs."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

from jobctl.client import Client
from jobctl.errors import NotFound


def print_log(path: Path) -> None:
    """Copy the log file to stdout as bytes (non-UTF-8 output passes through)."""
    try:
        with path.open("rb") as source:
            shutil.copyfileobj(source, sys.stdout.buffer)
    except FileNotFoundError:
        pass  # the attempt printed nothing (its log is created on the first byte)
    sys.stdout.buffer.flush()


def follow_log(client: Client, job_id: int, attempt: int | None, poll: float = 0.2) -> None:
    """Stream the latest (or given) attempt's log until the job is terminal."""
    while True:
        try:
            path = client.log_path(job_id, attempt)
            break
        except NotFound:
            if client.get(job_id).terminal:
                raise
            time.sleep(poll)
    offset = 0
    out = sys.stdout.buffer
    while True:
        terminal = client.get(job_id).terminal
        try:
            with path.open("rb") as source:
                size = source.seek(0, 2)
                if size < offset:  # the log was compacted to its tail: start over
                    offset = 0
                source.seek(offset)
                chunk = source.read()
                offset += len(chunk)
        except FileNotFoundError:
            chunk = b""
        if chunk:
            out.write(chunk)
            out.flush()
        if terminal:
            return
        time.sleep(poll)
