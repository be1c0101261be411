"""Config loading: SPEC shapes load unchanged; every problem reported with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobctl.config.check import check_config, load_config
from jobctl.config.resolve import EnqueueOptions, build_spec
from jobctl.domain.retry import Backoff
from jobctl.errors import ConfigError, InvalidInput

SPEC_CONFIG = """\
job_types:                    # list, like queues; names are unique
  - name: send_email
    command: [/usr/local/bin/send-email, --fast]   # argv list; a string is split with shlex
    queue: critical
    timeout: 30s
    user: mailer              # run as this user when the daemon is root
  - name: resize_image
    handler: myapp.jobs:resize   # Python callable, called with the payload (a dict)
  - name: nightly_sql
    command: "psql -f /srv/nightly.sql | tee /var/log/nightly.log"
    shell: true               # only with shell: true is a string run by /bin/sh -c
schedules:
  - name: nightly-report
    cron: "30 2 * * *"
    tz: Europe/Berlin
    command: [/usr/local/bin/report]   # or job_type: NAME with payload: {...}
    queue: bulk
    overlap: forbid
    misfire: once
retention: {succeeded: 7d, dead: 30d}
daemon: {concurrency: 8, lease: 30s, http: "127.0.0.1:8765"}
queues:
  - name: critical
    concurrency: 10
    retry_policy: {max_attempts: 5, backoff: exponential}
  - name: bulk
    concurrency: 4
    retry_policy: {max_attempts: 3, backoff: fixed, base: 10s, max: 1h, jitter: full}
    max_depth: 10000          # backpressure guard
    shed: defer               # defer | reject: what enqueue does above max_depth
    rate_limit: 20/s per tenant
shadow_mode: {enabled: true, sampling_percent: 25}
"""


def _write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_spec_example_loads_unchanged(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, SPEC_CONFIG))
    assert [q.name for q in config.queues] == ["critical", "bulk"]
    bulk = config.queue("bulk")
    assert bulk and bulk.retry and bulk.retry.backoff is Backoff.FIXED and bulk.max_depth == 10000
    email = config.job_type("send_email")
    assert email and email.command == ["/usr/local/bin/send-email", "--fast"]
    assert email.timeout == 30 and email.queue == "critical"
    sql = config.job_type("nightly_sql")
    assert sql and sql.command == [
        "/bin/sh",
        "-c",
        "psql -f /srv/nightly.sql | tee /var/log/nightly.log",
    ]
    assert config.retention == {"succeeded": 7 * 86400, "dead": 30 * 86400}
    assert config.daemon.lease == 30 and config.shadow_mode.sampling_percent == 25


def test_toml_is_accepted(tmp_path: Path) -> None:
    path = _write(tmp_path, '[[queues]]\nname = "bulk"\nconcurrency = 2\n', "config.toml")
    assert load_config(path).queue("bulk").concurrency == 2  # type: ignore[union-attr]


def test_every_problem_is_listed_with_its_line(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
queues:
  - name: a
    concurrency: 0
  - name: a
job_types:
  - name: t
    command: [x]
    queue: nowhere
    timeout: 5x
bogus: 1
""",
    )
    _config, problems = check_config(path)
    text = "\n".join(problems)
    assert f"{path}:3: concurrency must be a positive integer" in text
    assert f"{path}:4: duplicate name 'a'" in text
    assert f"{path}:8: unknown queue 'nowhere'" in text
    assert f"{path}:9: invalid timeout '5x'" in text
    assert f"{path}:10: unknown top-level key 'bogus'" in text
    assert len(problems) == 5


@pytest.mark.parametrize("value", ['"127.0.0.1:99999"', '"host:"', "nope"])
def test_a_bad_daemon_http_address_is_reported_with_its_line(tmp_path: Path, value: str) -> None:
    path = _write(tmp_path, f"daemon:\n  concurrency: 2\n  http: {value}\n")
    _config, problems = check_config(path)
    assert len(problems) == 1 and problems[0].startswith(f"{path}:3: invalid daemon.http")


def test_good_daemon_http_addresses_load(tmp_path: Path) -> None:
    for value in ('"127.0.0.1:8765"', '":0"', "8765", '"[::1]:8765"'):
        config = load_config(_write(tmp_path, f"daemon: {{http: {value}}}\n"))
        assert config.daemon.http == value.strip('"')


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "queues:\n  - name: a\n  bad: [\n")
    with pytest.raises(ConfigError, match=rf"{path}:\d+: invalid YAML"):
        load_config(path)


def test_missing_config_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_queue_names_outside_the_rule_are_config_problems(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
job_types:
  - name: t
    command: [x]
    queue: "mail out"
schedules:
  - name: s
    cron: "* * * * *"
    command: [x]
    queue: "a/b"
""",
    )
    _config, problems = check_config(path)
    text = "\n".join(problems)
    assert f"{path}:4: invalid queue name 'mail out'" in text, text
    assert f"{path}:9: invalid queue name 'a/b'" in text, text
    path = _write(tmp_path, 'queues:\n  - name: "x y"\n', "queues.yaml")
    assert [p.split(": ", 1)[1] for p in check_config(path)[1]] == [
        "invalid queue name 'x y': use 1-64 characters of A-Z a-z 0-9 _ . : -"
    ]


def test_strict_queues_refuse_unknown_names(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, "queues:\n  - name: bulk\n"))
    with pytest.raises(InvalidInput, match="unknown queue 'other'"):
        build_spec(EnqueueOptions(command=["true"], queue="other"), config)
    assert build_spec(EnqueueOptions(command=["true"]), config).queue == "default"


def test_job_type_resolves_command_queue_and_policy(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, SPEC_CONFIG))
    spec = build_spec(EnqueueOptions(job_type="send_email", payload={"to": "x"}), config)
    assert (spec.command, spec.queue, spec.timeout, spec.user) == (
        ["/usr/local/bin/send-email", "--fast"],
        "critical",
        30,
        "mailer",
    )
    assert spec.retry.max_attempts == 5
    handler = build_spec(EnqueueOptions(job_type="resize_image"), config)
    assert (handler.command, handler.handler) == (None, "myapp.jobs:resize")
    with pytest.raises(InvalidInput, match="unknown job type 'nope'"):
        build_spec(EnqueueOptions(job_type="nope"), config)


def test_queue_retry_policy_is_the_default_and_options_override(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, SPEC_CONFIG))
    spec = build_spec(EnqueueOptions(command=["true"], queue="bulk"), config)
    assert (spec.retry.max_attempts, spec.retry.backoff, spec.retry.base) == (3, Backoff.FIXED, 10)
    spec = build_spec(EnqueueOptions(command=["true"], queue="bulk", max_attempts=9), config)
    assert spec.retry.max_attempts == 9 and spec.retry.backoff is Backoff.FIXED


def test_config_check_flags_users_this_host_cannot_run_as(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "job_types:\n  - name: t\n    command: [id]\n    user: jobctl-no-such-user\n"
    )
    assert check_config(path)[1] == [], "loading does not depend on the host's users"
    problems = check_config(path, host_checks=True)[1]
    assert problems == [f"{path}:4: job type 't': unknown user 'jobctl-no-such-user'"]


@pytest.mark.parametrize(
    "text,line,message",
    [
        ("strict_queues: maybe\n", 1, "strict_queues must be true or false, got 'maybe'"),
        ("log_dir: 5\n", 1, "log_dir must be a non-empty string, got 5"),
        ("daemon:\n  lease: 0\n", 2, "invalid lease 0: more than 0s"),
        ("job_types:\n  - name: t\n    command: [x]\n    user: 7\n", 4, "user must be a"),
    ],
)
def test_a_value_of_the_wrong_kind_is_a_problem_not_a_silent_default(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    path = _write(tmp_path, text)
    problems = check_config(path)[1]
    assert len(problems) == 1 and problems[0].startswith(f"{path}:{line}: {message}"), problems


def test_where_a_job_runs(tmp_path: Path) -> None:
    # An explicit cwd (relative to the enqueue's directory), else the job type's `cwd:`,
    # else the enqueue's directory, else `/` (HTTP has no directory of its own)
    (tmp_path / "sub").mkdir()
    config = load_config(
        _write(
            tmp_path,
            f"job_types:\n  - {{name: t, command: [x], cwd: {tmp_path}}}\n"
            "  - {name: plain, command: [x]}\n",
        )
    )
    here = str(tmp_path / "sub")

    def cwd(**options: object) -> str | None:
        return build_spec(EnqueueOptions(**options), config).cwd  # type: ignore[arg-type]

    assert cwd(command=["x"], enqueued_from=here) == here
    assert cwd(command=["x"], cwd="..", enqueued_from=here) == str(tmp_path)
    assert cwd(job_type="t", enqueued_from=here) == str(tmp_path)
    assert cwd(job_type="t", cwd="/", enqueued_from=here) == "/"
    assert cwd(job_type="plain") == "/" and cwd(job_type="t") == str(tmp_path)
    with pytest.raises(InvalidInput, match=r"invalid cwd 'nope': no such directory \(.*/nope\)"):
        cwd(command=["x"], cwd="nope", enqueued_from=here)


def test_a_job_types_cwd_is_an_absolute_path_that_config_check_finds(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "job_types:\n  - {name: a, command: [x], cwd: rel/dir}\n"
        "  - {name: b, command: [x], cwd: /nonexistent/jobctl-dir}\n",
    )
    assert check_config(path)[1] == [f"{path}:2: invalid cwd 'rel/dir': an absolute path"]
    assert check_config(path, host_checks=True)[1][1] == (
        f"{path}:3: job type 'b': no such directory '/nonexistent/jobctl-dir'"
    )
