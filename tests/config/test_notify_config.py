"""The `notify:` section and the schedule fields it routes on: what loads, what config check
refuses (each problem at its file:line, exit 2)."""

from __future__ import annotations

from pathlib import Path

from jobctl.config.check import check_config
from tests.support.cli import run_main


def _check(tmp_path: Path, text: str, host: bool = True) -> list[str]:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return check_config(path, host_checks=host)[1]


def test_channels_routes_and_schedule_fields_load(tmp_path: Path) -> None:
    key = tmp_path / "pd.key"
    key.write_text("R0UTING\n")
    path = tmp_path / "c.yaml"
    path.write_text(
        f"notify:\n  channels:\n    - {{name: pd, pagerduty: {{routing_key_file: {key}}}}}\n"
        "  routes:\n    - {match: {severity: page}, to: [pd], after: 2, max_per: 2/30m}\n"
        "schedules:\n  - {name: n, cron: '@daily', command: [x], owner: billing,\n"
        "     severity: page, max_runtime: 2h, min_runtime: 30s, deadline: '06:00',\n"
        "     pause_after: 5, ping: 'https://hc.example.com/ping/u'}\n"
    )
    config, problems = check_config(path, host_checks=True)
    assert problems == []
    route = config.notify.routes[0]
    assert (route.after, route.max_per.count, route.max_per.seconds) == (2, 2, 1800.0)
    assert config.notify.channel("pd").routing_key_file == str(key)


def test_config_check_lists_every_notify_problem_at_its_line(tmp_path: Path) -> None:
    text = (
        "notify:\n"  # 1
        "  channels:\n"  # 2
        "    - {name: chat, webhook: {url_file: /nonexistent/hook.url}}\n"  # 3
        "  routes:\n"  # 4
        "    - {match: {event: dead}, to: [nobody]}\n"  # 5
        "    - {to: [chat]}\n"  # 6
        "    - {match: {event: dead}, to: [chat], max_per: 2/soon}\n"  # 7
        "    - {match: {job_type: ghost}, to: [chat]}\n"  # 8
        "schedules:\n"  # 9
        "  - {name: n, cron: '@daily', command: [x], deadline: 6am}\n"  # 10
    )
    problems = _check(tmp_path, text)
    where = [p.split(": ", 1)[0].rsplit(":", 1)[1] for p in problems]
    assert where == ["3", "5", "6", "7", "8", "10"], problems
    joined = "\n".join(problems)
    assert "no such secret file '/nonexistent/hook.url'" in joined
    assert "unknown channel 'nobody'" in joined
    assert "needs a match" in joined
    assert "invalid max_per '2/soon'" in joined
    assert "unknown job type 'ghost'" in joined
    assert "invalid deadline '6am'" in joined


def test_a_webhook_url_in_the_config_text_is_refused(tmp_path: Path) -> None:
    problems = _check(tmp_path, "notify:\n  channels:\n    - {name: c, webhook: {url: http://x}}\n")
    assert any("a webhook URL is a secret" in p for p in problems), problems


def test_config_check_exits_2_and_never_prints_a_secret(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("hunter2-s3cret")
    path = tmp_path / "c.yaml"
    path.write_text(
        "notify:\n  channels:\n"
        f"    - {{name: m, email: {{to: [a@b.c], smtp: 'smtp://h:25', password_file: {secret}}}}}\n"
        "  routes:\n    - {match: {event: bogus}, to: [m]}\n"
    )
    res = run_main("config", "check", str(path))
    assert res.rc == 2
    assert "unknown event 'bogus'" in res.err
    shown = run_main("--config", str(path), "config", "show")
    assert "hunter2" not in shown.out + shown.err + res.out + res.err
