"""`schedule import`'s parser: crontab text → schedule drafts and rejected lines (cron(5)/cronie).

The files under crontabs/ are realistic: Debian's stock /etc/crontab, a cron.d file and a
user crontab; every test asserts exact entries and exact reasons. Schedules are validated
by the real `jobctl.domain.cron.parse_cron` (the default seam).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from jobctl.domain.crontab import (
    CrontabImport,
    ImportedEntry,
    RejectedLine,
    parse_crontab,
    split_percent,
    user_column,
)
from jobctl.errors import InvalidInput

CRONTABS = Path(__file__).parent / "crontabs"
DEBIAN_PATH = "/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin"
ALICE_PATH = "/home/alice/bin:/usr/local/bin:/usr/bin:/bin"


def _load(name: str, system: bool = False) -> CrontabImport:
    return parse_crontab((CRONTABS / name).read_text(), name, system=system)


def _raw(name: str, line: int) -> str:
    return (CRONTABS / name).read_text().split("\n")[line - 1]


def _entry(
    source: str,
    line: int,
    *,
    name: str,
    cron: str,
    command: list[str],
    env: dict[str, str],
    tz: str | None = None,
    stdin: str | None = None,
    user: str | None = None,
) -> ImportedEntry:
    return ImportedEntry(
        name, cron, tz, command, stdin, env, user, source, line, _raw(source, line)
    )


def test_debian_etc_crontab_imports_the_run_parts_lines_with_user_and_env() -> None:
    # Given Debian's stock /etc/crontab (SHELL, PATH, comments, tabs, the anacron guard form)
    result = _load("debian-etc-crontab", system=True)
    # Then the four run-parts lines are imported as commands, as root, under that env
    env = {"SHELL": "/bin/sh", "PATH": DEBIAN_PATH}
    src = "debian-etc-crontab"
    guard = "test -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.{} )"
    assert result.entries == [
        _entry(
            src,
            18,
            name="cron-run-parts-01c056",
            cron="17 * * * *",
            command=["/bin/sh", "-c", "cd / && run-parts --report /etc/cron.hourly"],
            env=env,
            user="root",
        ),
        _entry(
            src,
            19,
            name="cron-run-parts-58de21",
            cron="25 6 * * *",
            command=["/bin/sh", "-c", guard.format("daily")],
            env=env,
            user="root",
        ),
        _entry(
            src,
            20,
            name="cron-run-parts-2558a1",
            cron="47 6 * * 7",
            command=["/bin/sh", "-c", guard.format("weekly")],
            env=env,
            user="root",
        ),
        _entry(
            src,
            21,
            name="cron-run-parts-e5f4a1",
            cron="52 6 1 * *",
            command=["/bin/sh", "-c", guard.format("monthly")],
            env=env,
            user="root",
        ),
    ]
    assert result.rejected == []
    assert result.notes == []


def test_cron_d_file_imports_users_and_rejects_lines_without_a_user_column() -> None:
    # Given a cron.d file with CRON_TZ, SHELL=bash, guard forms, @reboot and pasted user lines
    src = "cron.d-ops"
    result = _load(src, system=True)
    env = {"SHELL": "/bin/bash", "PATH": DEBIAN_PATH}
    berlin = "Europe/Berlin"
    # Then names skip `test …&&`, `[ … ] && if …; then` and `VAR=1` to the real command
    # and the guard idiom `TEST && …` becomes `if TEST; then …; fi` (a no-op, as under cron)
    certbot = (
        "if test -x /usr/bin/certbot -a \\! -d /run/systemd/system; then\n"
        "perl -e 'sleep int(rand(43200))' && certbot -q renew\nfi"
    )
    php = (
        "if [ -x /usr/lib/php/sessionclean ]; then\nif [ ! -d /run/systemd/system ];"
        " then /usr/lib/php/sessionclean; fi\nfi"
    )
    e2scrub = "test -e /run/systemd/system || SERVICE_MODE=1 /sbin/e2scrub_all -A -r"
    assert result.entries == [
        _entry(
            src,
            6,
            name="cron-perl-4f825e",
            cron="0 */12 * * *",
            tz=berlin,
            command=["/bin/bash", "-c", certbot],
            env=env,
            user="root",
        ),
        _entry(
            src,
            7,
            name="cron-sessionclean-900c16",
            cron="09,39 * * * *",
            tz=berlin,
            command=["/bin/bash", "-c", php],
            env=env,
            user="root",
        ),
        _entry(
            src,
            8,
            name="cron-e2scrub-all-166951",
            cron="10 3 * * *",
            tz=berlin,
            command=["/bin/bash", "-c", e2scrub],
            env=env,
            user="root",
        ),
        _entry(
            src,
            9,
            name="cron-pg-warmup-8f4f44",
            cron="@reboot",
            tz=berlin,
            command=["/bin/bash", "-c", "/usr/local/bin/pg-warmup"],
            env=env,
            user="postgres",
        ),
    ]
    assert result.rejected == [
        RejectedLine(
            src,
            11,
            _raw(src, 11),
            "user column '/usr/local/bin/cleanup' is not a user name: a --system line is "
            "`schedule user command` (a user crontab? import it without --system)",
        ),
        RejectedLine(
            src, 12, _raw(src, 12), "no user column: a --system line is `schedule user command`"
        ),
        RejectedLine(src, 13, _raw(src, 13), "schedule but no command"),
    ]


def test_user_crontab_entries_follow_env_percent_and_zone_switches() -> None:
    # Given a user crontab: MAILTO, quoted env, `\%` and `%` stdin, @reboot, CRON_TZ switches
    src = "alice.crontab"
    result = _load(src)
    env = {"MAILTO": "ops@example.com", "PATH": ALICE_PATH, "BACKUP_DIR": "/srv/backup"}
    env_bash = env | {"MAILTO": "", "SHELL": "/bin/bash"}
    new_york = "America/New_York"
    backup = 'backup.sh --to "$BACKUP_DIR/$(date +%Y-%m-%d).tar.gz"'
    assert result.entries == [
        _entry(
            src,
            8,
            name="cron-backup-sh-c308c7",
            cron="30 2 * * *",
            env=env,
            command=["/bin/sh", "-c", backup],
        ),
        _entry(
            src,
            9,
            name="cron-mail-c00a44",
            cron="0 9 * * mon-fri",
            env=env,
            command=["/bin/sh", "-c", "mail -s subj ops"],
            stdin="line1\nline2",
        ),
        _entry(
            src,
            10,
            name="cron-start-tunnel-34f83f",
            cron="@reboot",
            env=env,
            command=["/bin/sh", "-c", "/home/alice/bin/start-tunnel --port 2222"],
        ),
        _entry(
            src,
            14,
            name="cron-report-py-f4dea0",
            cron="0 8 1 jan,jul *",
            tz=new_york,
            env=env,
            command=["/bin/sh", "-c", "report.py --half-year"],
        ),
        # the bad CRON_TZ on line 15 left New York in effect
        _entry(
            src,
            16,
            name="cron-curl-479076",
            cron="*/15 * * * *",
            tz=new_york,
            env=env,
            command=["/bin/sh", "-c", "curl -fsS https://hc.example.com/ping/abc > /dev/null"],
        ),
        _entry(
            src,
            19,
            name="cron-rotate-logs-527c30",
            cron="@weekly",
            tz=new_york,
            env=env_bash,
            command=["/bin/bash", "-c", "~/bin/rotate-logs"],
        ),
        # TZ=Asia/Tokyo (line 20) does not override the CRON_TZ in effect; macros kept as written
        _entry(
            src,
            21,
            name="cron-backup-sh-9a6517",
            cron="@annually",
            tz=new_york,
            env=env_bash,
            command=["/bin/bash", "-c", "backup.sh --full"],
        ),
        # `CRON_TZ=` (line 22) clears it: TZ applies
        _entry(
            src,
            23,
            name="cron-weekly-digest-bf37c4",
            cron="0 12 * * sun",
            tz="Asia/Tokyo",
            env=env_bash,
            command=["/bin/bash", "-c", "/usr/bin/weekly-digest"],
        ),
    ]


def test_user_crontab_reports_every_line_it_could_not_import_with_the_reason() -> None:
    src = "alice.crontab"
    result = _load(src)
    assert [(r.line, r.reason) for r in result.rejected] == [
        (
            15,
            "unknown time zone 'Mars/Olympus_Mons' in CRON_TZ: the lines after it keep "
            "America/New_York",
        ),
        (27, "invalid cron '61 * * * *': minute field '61' is out of range 0-59"),
        (
            28,
            "too few fields: a schedule needs 5 (minute hour day-of-month month day-of-week) "
            "then a command, found 4",
        ),
        (
            29,
            "unknown macro '@fortnightly': cron knows @reboot @yearly @annually @monthly "
            "@weekly @daily @midnight @hourly",
        ),
        (30, "schedule but no command"),
        (31, "no command before the first % (the text after it is stdin)"),
    ]
    assert [r.raw for r in result.rejected] == [_raw(src, r.line) for r in result.rejected]
    assert all(r.source == src and "\n" not in r.reason for r in result.rejected)


def test_mailto_gives_one_note_per_distinct_address_and_none_when_empty() -> None:
    # alice.crontab sets ops@example.com twice (bare and quoted) and MAILTO='' once
    assert _load("alice.crontab").notes == [
        "MAILTO=ops@example.com: jobctl mails its lines' output and failures (cron's rule),"
        " through config notify channel 'mailto' or the local sendmail"
    ]


@pytest.mark.parametrize(
    "text,command,stdin",
    [
        ("date +\\%Y-\\%m-\\%d", "date +%Y-%m-%d", None),  # \% is a literal % in the command
        ("mail -s subj ops%line1%line2", "mail -s subj ops", "line1\nline2"),
        ("cat%", "cat", ""),  # a % with nothing after it: empty stdin
        ("cat%50\\% off%bye", "cat", "50% off\nbye"),  # \% is % in stdin too
        ("printf 'a\\tb'%x\\ty", "printf 'a\\tb'", "x\\ty"),  # other escapes stay
        ("echo \\\\%in", "echo \\\\", "in"),  # cronie: \\ does not escape the %
        ("cat%a\\\\%b", "cat", "a\\%b"),  # ... but in stdin \\% gives \%
        ("cat%tail\\", "cat", "tail\\"),  # a trailing backslash is kept
    ],
)
def test_percent_follows_cronie(text: str, command: str, stdin: str | None) -> None:
    assert split_percent(text) == (command, stdin)


@pytest.mark.parametrize(
    "line,name,value",
    [
        ("FOO=bar", "FOO", "bar"),
        ("  FOO = bar baz  ", "FOO", "bar baz"),
        ('FOO="quoted value"', "FOO", "quoted value"),
        ("FOO='single'", "FOO", "single"),
        ('FOO="unbalanced', "FOO", '"unbalanced'),
        ("PATH=$PATH:/opt/bin", "PATH", "$PATH:/opt/bin"),  # cron does not expand
        ("EMPTY=", "EMPTY", ""),
    ],
)
def test_env_lines_apply_to_the_following_entries(line: str, name: str, value: str) -> None:
    result = parse_crontab(f"{line}\n@hourly job\n", "t")
    assert result.entries[0].env == {name: value}
    assert result.rejected == []


def test_zone_lines_are_not_part_of_the_job_env_and_an_unknown_tz_keeps_the_default() -> None:
    text = "TZ=Nowhere/Land\n@daily a\nCRON_TZ=UTC\nTZ=Europe/Paris\n@daily b\n"
    result = parse_crontab(text, "t")
    assert [(e.tz, e.env) for e in result.entries] == [(None, {}), ("UTC", {})]
    assert result.rejected == [
        RejectedLine(
            "t",
            1,
            "TZ=Nowhere/Land",
            "unknown time zone 'Nowhere/Land' in TZ: the lines after it keep the default zone",
        )
    ]


@pytest.mark.parametrize(
    "macro",
    ["@reboot", "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"],
)
def test_every_cron_macro_is_imported_as_written(macro: str) -> None:
    (entry,) = parse_crontab(f"{macro} /usr/bin/true\n", "t").entries
    assert (entry.cron, entry.command) == (macro, ["/bin/sh", "-c", "/usr/bin/true"])


@pytest.mark.parametrize("macro", ["@Daily", "@every", "@"])
def test_macros_cron_does_not_know_are_rejected(macro: str) -> None:
    (rejected,) = parse_crontab(f"{macro} 5m job\n", "t").rejected
    assert rejected.reason.startswith(f"unknown macro {macro!r}: cron knows @reboot")


def test_blank_comment_and_crlf_lines_keep_their_numbers() -> None:
    text = "\r\n  # comment\r\n\t\r\n  0 5 * * *   backup.sh   --all  \r\n"
    (entry,) = parse_crontab(text, "win.txt").entries
    assert (entry.line, entry.raw, entry.cron) == (
        4,
        "  0 5 * * *   backup.sh   --all  ",
        "0 5 * * *",
    )
    assert entry.command == ["/bin/sh", "-c", "backup.sh   --all"]


def test_names_come_from_the_command_and_its_line_and_are_unique() -> None:
    text = "@daily /opt/x/run.sh\n@daily /opt/y/run.sh\n@daily 'My Tool!'\n@daily ;\n"
    first = parse_crontab(text, "t", prefix="legacy/")
    assert [e.name for e in first.entries] == [
        "legacy/run-sh-4c2052",
        "legacy/run-sh-b08e18",
        "legacy/my-70b0f4",
        "legacy/cmd-1d1eb9",
    ]
    assert first == parse_crontab(text, "t", prefix="legacy/")
    for name, system in [("alice.crontab", False), ("cron.d-ops", True)]:
        names = [e.name for e in _load(name, system).entries]
        assert len(names) == len(set(names))


def test_names_stay_when_other_lines_change_and_repeated_lines_are_numbered() -> None:
    # Given a crontab, and the same with lines added, removed and env changed around a line
    before = "MAILTO=a@example.com\n0 5 * * * /usr/bin/backup --all\n@daily /usr/bin/rotate\n"
    after = "# new header\nPATH=/bin\n@hourly /usr/bin/other\n\n0 5 * * * /usr/bin/backup --all\n"
    # Then the line that stayed keeps its name; a changed schedule or command gets another
    (backup, _rotate) = parse_crontab(before, "t").entries
    assert parse_crontab(after, "t").entries[1].name == backup.name
    assert parse_crontab("0 6 * * * /usr/bin/backup --all\n", "t").entries[0].name != backup.name
    # and a line repeated as it is (cron runs it twice) gets a numbered second name
    twice = parse_crontab("@daily /usr/bin/x\n@daily /usr/bin/x\n", "t").entries
    assert [e.name for e in twice] == [twice[0].name, f"{twice[0].name}-2"]


def test_the_validator_seam_gets_each_schedule_and_its_message_is_the_reason() -> None:
    seen: list[str] = []

    def validate(expr: str) -> None:
        seen.append(expr)
        if expr.startswith("7"):
            raise InvalidInput(f"no sevens: {expr}")

    text = "1\t2 * * *\tjob\n7 * * * * job\n@reboot job\n"
    result = parse_crontab(text, "t", validate=validate)
    assert seen == ["1 2 * * *", "7 * * * *", "@reboot"]
    assert [e.line for e in result.entries] == [1, 3]
    assert [r.reason for r in result.rejected] == ["no sevens: 7 * * * *"]


def test_a_bad_schedule_is_reported_before_a_missing_command() -> None:
    (rejected,) = parse_crontab("0 5 * * funday\n", "t").rejected
    assert rejected.reason == (
        "invalid cron '0 5 * * funday': day-of-week field 'funday' is not a number or day name "
        "(sun-sat)"
    )


@pytest.mark.parametrize(
    "name,found",
    [
        ("debian-etc-crontab", (18, "root")),  # every line has a user column
        ("cron.d-ops", (6, "root")),  # most lines do (a few were pasted without one)
        ("alice.crontab", None),
    ],
)
def test_a_user_column_is_recognised_by_known_users(name: str, found: object) -> None:
    is_user = {"root", "postgres", "backup"}.__contains__
    assert user_column((CRONTABS / name).read_text(), is_user) == found


def test_a_user_crontab_whose_command_is_a_user_name_is_not_taken_for_a_system_one() -> None:
    text = "0 5 * * * backup --all\n0 6 * * * /usr/bin/report\n@daily /usr/bin/rotate\n"
    assert user_column(text, {"backup"}.__contains__) is None
