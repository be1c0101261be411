"""`schedule export`'s writer: schedules → crontab text that cron reads back as the same
schedules (and `schedule import` too); what cron cannot express is a comment saying why."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from jobctl.domain.crontab import parse_crontab, split_percent, stdin_wrapped
from jobctl.domain.crontab_export import Exportable, export_crontab
from jobctl.domain.schedule import Schedule
from jobctl.domain.shellguard import unguard

CRONTABS = Path(__file__).parent / "crontabs"


def _sh(text: str, shell: str = "/bin/sh") -> list[str]:
    return [shell, "-c", text]


def _lines(text: str) -> list[str]:
    """The crontab's lines that are not comments or blank."""
    return [ln for ln in text.splitlines() if ln and not ln.startswith("#")]


def test_zones_env_user_column_and_a_comment_naming_each_schedule() -> None:
    schedules = [
        Schedule("b", "0 5 * * *", "America/New_York", command=["/usr/bin/backup", "a b"]),
        Schedule("a", "*/15 * * * *", "Europe/Berlin", command=_sh("run.sh"), user="www-data"),
        Schedule("c", "@daily", "Europe/Berlin", command=_sh("echo hi"), env={"PATH": "/x"}),
    ]
    found = export_crontab([Exportable(s) for s in schedules], system=True, default_user="root")
    assert found.left_out == [] and found.written == ["b", "a", "c"]
    body = found.text.split("\n\n", 1)[1]
    assert body == (
        "CRON_TZ=America/New_York\n"
        "# jobctl schedule b\n"
        "0 5 * * * root /usr/bin/backup 'a b'\n"
        "\n"
        "CRON_TZ=Europe/Berlin\n"
        "# jobctl schedule a\n"
        "*/15 * * * * www-data run.sh\n"
        "PATH=/x\n"
        "# jobctl schedule c\n"
        "@daily root echo hi\n"
    )


def test_what_cron_cannot_express_is_left_out_with_why() -> None:
    schedules = [
        Schedule("secs", "*/10 * * * * *", "UTC", command=["x"]),
        Schedule("zero-secs", "*/5 * * * * 0", "UTC", command=["x"]),
        Schedule("every", "@every 90s", "UTC", command=["x"]),
        Schedule("gap", "30 2 * * *", "Europe/Berlin", command=["x"], dst_gap="skip"),
        Schedule("both", "30 2 * * *", "Europe/Berlin", command=["x"], dst_repeat="both"),
        Schedule("interval", "*/30 * * * *", "Europe/Berlin", command=["x"], dst_gap="skip"),
        Schedule("lines", "0 1 * * *", "UTC", command=_sh("a\nb")),
        Schedule("escape", "0 1 * * *", "UTC", command=_sh("printf '\x1b[2J'")),
        Schedule("handler", "0 1 * * *", "UTC", job_type="resize"),
        Schedule("backslash", "0 1 * * *", "UTC", command=_sh("printf '\\%'")),
    ]
    found = export_crontab([Exportable(s) for s in schedules])
    reasons = {x.name: x.reason for x in found.left_out}
    assert found.written == ["interval", "zero-secs"]
    assert reasons == {
        "secs": "cron has no seconds field ('*/10 * * * * *')",
        "every": "cron has no '@every 90s': use a cron expression (*/N)",
        "gap": "dst-gap skip: cron runs a fixed-time job once, right after a gap or at the"
        " first repeat",
        "both": "dst-repeat both: cron runs a fixed-time job once, right after a gap or at the"
        " first repeat",
        "lines": "its command spans several lines: a crontab line is one line",
        "escape": "control characters in its command or environment",
        "handler": "job type 'resize' runs a Python handler (or is not in the config)",
        "backslash": "a backslash before % in its command or input cannot be written for cron",
    }
    assert "*/5 * * * * x" in _lines(found.text)
    assert "# jobctl: left out secs: cron has no seconds field ('*/10 * * * * *')" in found.text


def test_percent_stdin_and_the_guard_idiom_are_written_as_the_crontab_had_them() -> None:
    line = '0 4 * * 1 [ -x /usr/bin/mail ] && mail -s "at 100\\%" ops%Hello%world\\% done'
    (entry,) = parse_crontab(line, "/etc/crontab").entries
    command, env = [*entry.command[:2], stdin_wrapped(entry.command[2])], {}
    env["JOBCTL_CRON_STDIN"] = entry.stdin
    s = Schedule("m", entry.cron, "UTC", command=command, env=env)
    found = export_crontab([Exportable(s)])
    assert _lines(found.text) == ["CRON_TZ=UTC", line]
    assert entry.command[2] == unguard('[ -x /usr/bin/mail ] && mail -s "at 100%" ops')


def test_jobctl_step_syntax_is_written_as_cronie_reads_it() -> None:
    s = Schedule("s", "5/20 1/6 * * 1/2", "UTC", command=["x"])
    assert _lines(export_crontab([Exportable(s)]).text)[1] == "5-59/20 1-23/6 * * 1-7/2 x"


def test_env_that_a_later_line_does_not_have_is_set_back_to_crons_default() -> None:
    a = Schedule("a", "0 1 * * *", "UTC", command=_sh("x"), env={"PATH": "/opt", "MAILTO": "m"})
    b = Schedule("b", "0 2 * * *", "UTC", command=_sh("y"), origin="import", source="/f:9")
    first = replace(a, origin="import", source="/f:3")
    found = export_crontab([Exportable(b), Exportable(first)])
    assert _lines(found.text) == [
        "CRON_TZ=UTC",
        "PATH=/opt",
        "MAILTO=m",
        "0 1 * * * x",
        "PATH=/usr/bin:/bin",
        "MAILTO=",
        "0 2 * * * y",
    ]


def test_a_shell_other_than_the_one_in_effect_gets_its_shell_line() -> None:
    s = Schedule("b", "0 1 * * *", "UTC", command=_sh("echo $BASH", "/bin/bash"))
    assert _lines(export_crontab([Exportable(s)]).text) == [
        "CRON_TZ=UTC",
        "SHELL=/bin/bash",
        "0 1 * * * echo $BASH",
    ]


def test_a_paused_schedule_is_written_commented_out() -> None:
    s = Schedule("p", "0 1 * * *", "UTC", command=["x"], enabled=False, jitter=300)
    found = export_crontab([Exportable(s)])
    assert "# jobctl schedule p (jitter 5m00s: cron starts it on time; paused: the line is" in (
        found.text
    )
    assert "#0 1 * * * x" in found.text.splitlines() and found.left_out == []


def test_a_job_type_exports_its_command_with_the_payload_on_stdin() -> None:
    s = Schedule("t", "0 1 * * *", "UTC", job_type="mail", payload={"to": "ops"})
    item = Exportable(s, ["/usr/bin/send", "--fast"], '{"to": "ops"}')
    assert _lines(export_crontab([item]).text)[1] == '0 1 * * * /usr/bin/send --fast%{"to": "ops"}'


@pytest.mark.parametrize("name", ["debian-etc-crontab", "cron.d-ops", "alice.crontab"])
def test_an_imported_crontab_exports_to_lines_cron_reads_the_same(name: str) -> None:
    # Given every line a realistic crontab imports, as schedules
    path = CRONTABS / name
    system = not name.endswith(".crontab")
    parsed = parse_crontab(path.read_text(), str(path), system=system)
    schedules = []
    for e in parsed.entries:
        env = dict(e.env)
        command = list(e.command)
        if e.stdin is not None:
            env["JOBCTL_CRON_STDIN"] = e.stdin
            command = [command[0], "-c", stdin_wrapped(command[2])]
        where = {"origin": "import", "source": f"{path}:{e.line}"}
        schedules.append(
            Schedule(e.name, e.cron, e.tz or "UTC", command=command, env=env, user=e.user, **where)
        )
    # When they are exported and the export parsed again
    found = export_crontab([Exportable(s) for s in schedules], system=system)
    again = parse_crontab(found.text, "export", system=system)
    # Then every schedule comes back: same name, schedule, command, stdin, env, user
    assert found.left_out == [] and again.rejected == []

    def key(e):  # type: ignore[no-untyped-def]
        return (e.name, e.cron, e.command, e.stdin, e.env, e.user)

    assert sorted(map(key, again.entries)) == sorted(map(key, parsed.entries))
    assert all(split_percent(ln) for ln in _lines(found.text))
