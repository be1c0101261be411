"""The JobctlError tree: every expected failure, each class carrying its exit code.

`cli.main` is the one place that turns these into stderr lines and exit codes.
"""

from __future__ import annotations

# Exit codes (SPEC "Global conventions").
EXIT_OK = 0
EXIT_FAILED = 1  # the operation failed
EXIT_USAGE = 2  # usage / invalid input
EXIT_NOT_FOUND = 3  # no such job, entry, schedule, ...
EXIT_REFUSED = 4  # guard rail not confirmed, grace period not over, permission
EXIT_UNAVAILABLE = 75  # lock busy, backpressure, DB busy beyond timeout, daemon running


class JobctlError(Exception):
    """Base of all expected failures; the message names the bad value."""

    exit_code = EXIT_FAILED


class InvalidInput(JobctlError):
    """Bad user input: options, durations, JSON, config."""

    exit_code = EXIT_USAGE


class InvalidFields(InvalidInput):
    """Every bad field of one entry (e.g. a schedule) as (key, message); the message lists
    them all on one line."""

    def __init__(self, fields: list[tuple[str, str]]):
        self.fields = fields
        super().__init__("; ".join(message for _key, message in fields))


class NotFound(JobctlError):
    exit_code = EXIT_NOT_FOUND


class Refused(JobctlError):
    exit_code = EXIT_REFUSED


class WrongState(JobctlError):
    """The target is in no state the action applies to (retry of a running job, cancel of
    a finished one): nothing was done. Exit 1; over HTTP, 409."""

    exit_code = EXIT_FAILED


class Unavailable(JobctlError):
    """Temporarily unavailable: retrying later may succeed."""

    exit_code = EXIT_UNAVAILABLE


class StoreError(JobctlError):
    """The database could not be opened or written (permissions, corruption, disk)."""

    exit_code = EXIT_FAILED


class ConfigError(InvalidInput):
    """A config file failed to load or validate; carries every problem found."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems) if problems else "invalid config")
