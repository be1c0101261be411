"""`health.probes:` in config: every kind's shapes, every problem in one pass at its line,
what `config check` finds on this host, and passwords kept out of `config show`."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobctl.config.check import check_config
from jobctl.config.probes import ProbeSpec, Target, read_secret
from jobctl.errors import InvalidInput
from tests.support.cli import run_main


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_every_kind_is_read_with_its_defaults(tmp_path: Path) -> None:
    config, problems = check_config(
        _write(
            tmp_path,
            """\
health:
  probes:
    - {name: pg, postgres: "postgresql://app@db:5432/app"}
    - {name: r, redis: {url_env: REDIS_URL}, timeout: 500ms, level: warning}
    - {name: m, mysql: {url_file: /etc/jobctl/my.url}}
    - {name: h, http: "https://api.local/health"}
    - {name: t, tcp: "db:5432"}
    - {name: c, tls: "api.local:443"}
    - {name: n, command: "/usr/lib/nagios/plugins/check_load -w 5"}
    - {name: d, disk: /srv}
""",
        )
    )
    assert problems == []
    specs = {s.name: s for s in config.health.probes}
    assert config.health.cache == 5.0
    assert specs["pg"] == ProbeSpec("pg", "postgres", Target(text="postgresql://app@db:5432/app"))
    assert (specs["r"].target, specs["r"].timeout, specs["r"].level) == (
        Target(env="REDIS_URL"),
        0.5,
        "warning",
    )
    assert specs["m"].target == Target(file="/etc/jobctl/my.url")
    h = specs["h"]
    assert (h.method, h.status, h.follow_redirects, h.verifies) == ("GET", (), False, True)
    c = specs["c"]
    assert (c.warn_days, c.crit_days, c.verifies, c.timeout) == (14.0, 3.0, False, 2.0)
    assert specs["n"].argv == ("/usr/lib/nagios/plugins/check_load", "-w", "5")
    assert specs["d"].target.text == "/srv" and specs["d"].min_free is None


def test_every_bad_probe_is_a_problem_at_its_line_in_one_pass(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
health:
  cache: soon
  probes:
    - name: a
      ftp: "ftp://x"
    - name: b
      http: {url: "ftp://user:hunter2@x/"}
    - name: c
      tcp: "nohost"
    - name: d
      redis: "redis://h:6379"
      timeout: 0s
      level: loud
    - name: db
      tcp: "h:1"
    - name: e
      http: {url: "http://x/", status: 999, colour: red}
    - name: e
      tcp: "h:2"
    - name: f
      postgres: {url_file: relative/path}
""",
    )
    _, problems = check_config(path)
    lines = {int(p.split(":")[1]): p for p in problems}
    assert "exactly one kind" in lines[4] and "unknown key 'ftp'" in lines[5]
    assert "invalid http URL" in lines[7] and "hunter2" not in lines[7] and "***" in lines[7]
    assert "HOST:PORT" in lines[9]
    assert "timeout" in lines[12] and "level 'loud'" in lines[13]
    assert "'db' is a built-in probe's" in lines[14]
    assert any("status 999" in p for p in problems) and any("'colour'" in p for p in problems)
    assert "another probe's" in lines[18]
    assert "absolute path" in lines[21]
    assert "soon" in lines[2]
    assert len(problems) == 12, problems


def test_config_check_reads_the_secret_file_and_never_prints_it(tmp_path: Path) -> None:
    # Given probes whose URL files are missing, and hold a password but no valid URL
    bad_url = tmp_path / "bad.url"
    bad_url.write_text("ftp://admin:s3cr3t-pw@db/x\n")
    good_url = tmp_path / "good.url"
    good_url.write_text("postgresql://admin:s3cr3t-pw@db/x\n")
    path = _write(
        tmp_path,
        f"""\
health:
  probes:
    - name: missing
      postgres: {{url_file: {tmp_path}/nope.url}}
    - name: garbled
      postgres: {{url_file: {bad_url}}}
    - name: fine
      postgres: {{url_file: {good_url}}}
    - name: plugin
      command: [/nonexistent/check_thing]
    - name: gone
      disk: /nonexistent/dir
""",
    )
    # When `config check` runs
    res = run_main("--db", str(tmp_path / "db"), "config", "check", str(path))
    # Then each is a problem at its line, exit 2, and the password is nowhere
    assert res.rc == 2, res
    errors = res.err.splitlines()
    assert len(errors) == 4, res.err
    assert f"{path}:4:" in errors[0] and "cannot read: No such file" in errors[0]
    assert f"{path}:6:" in errors[1] and f"invalid postgres URL in url_file {bad_url}" in errors[1]
    assert f"{path}:10:" in errors[2] and "not found" in errors[2]
    assert f"{path}:12:" in errors[3] and "no such path" in errors[3]
    assert "s3cr3t" not in res.out + res.err
    assert not (tmp_path / "db").exists()


def test_config_show_hides_a_password_written_in_the_config(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "health:\n  probes:\n    - {name: pg, postgres: 'postgresql://app:pa55word@db/app'}\n",
    )
    res = run_main("--config", str(path), "config", "show")
    assert res.rc == 0, res
    assert "pa55word" not in res.out and "postgresql://app:***@db/app" in res.out


def test_a_secret_is_read_when_the_probe_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "url"
    secret.write_text("redis://:pw@cache:6379/0\n")
    assert read_secret(Target(file=str(secret)), "redis") == "redis://:pw@cache:6379/0"
    monkeypatch.setenv("CACHE_URL", "redis://:pw@other:6379/0")
    assert read_secret(Target(env="CACHE_URL"), "redis").endswith("@other:6379/0")
    monkeypatch.setenv("CACHE_URL", "ftp://:pw@other")
    with pytest.raises(InvalidInput) as caught:
        read_secret(Target(env="CACHE_URL"), "redis")
    assert str(caught.value) == (
        "invalid redis URL in url_env CACHE_URL: use redis://, rediss://, unix://…"
    )
    monkeypatch.delenv("CACHE_URL")
    with pytest.raises(InvalidInput, match="url_env CACHE_URL: the variable is not set"):
        read_secret(Target(env="CACHE_URL"), "redis")
