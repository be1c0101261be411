"""`jobctl init`: the commented example config, written root-only as root."""

from __future__ import annotations

import os
from pathlib import Path

from jobctl.paths import file_mode, make_dirs

EXAMPLE_CONFIG = """\
# jobctl configuration (YAML; TOML works too with a .toml name). Everything is optional.
# Check it with `jobctl config check`; see the effective values with `jobctl config show`.

# queues:
#   - name: default
#     concurrency: 4
#   - name: bulk
#     concurrency: 2
#     retry_policy: {max_attempts: 3, backoff: fixed, base: 10s, max: 1h, jitter: full}

# job_types:
#   - name: send_email
#     command: [/usr/local/bin/send-email, --fast]
#     queue: default
#     timeout: 30s

# daemon: {concurrency: 8, lease: 30s, grace: 30s, misfire_grace: 60s}
# durability: full      # full: an acknowledged enqueue survives power loss; fast: NORMAL sync
# non_retryable_exit_codes: [64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78]
# log_cap: 10MiB        # per-attempt output kept on disk (the tail)
"""


def write_example_config(path: Path) -> None:
    """Write EXAMPLE_CONFIG to a new `path` (root-only as root, with the directories made for
    it: a config may name secrets' files and the commands run as root)."""
    make_dirs(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, file_mode())
    with os.fdopen(fd, "w") as out:
        out.write(EXAMPLE_CONFIG)
