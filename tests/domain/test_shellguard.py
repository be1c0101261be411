"""The guard idiom of crontabs (`[ -x X ] && cmd`): rewritten so a failing guard exits 0 as
the line is a no-op under cron; every other command is kept as written."""

from __future__ import annotations

import subprocess

import pytest

from jobctl.domain.shellguard import unguard


@pytest.mark.parametrize(
    "command,rewritten",
    [
        ("[ -x /usr/bin/php ] && php /x.php", "if [ -x /usr/bin/php ]; then\nphp /x.php\nfi"),
        ("test -e /f && a && b | c 2>&1", "if test -e /f; then\na && b | c 2>&1\nfi"),
        ("[[ -f /x ]] && run # note; more", "if [[ -f /x ]]; then\nrun # note; more\nfi"),
        ("[ -x X ] && if [ -d Y ]; then z; fi", "if [ -x X ]; then\nif [ -d Y ]; then z; fi\nfi"),
        ('[ -x "a b" ] && echo "x && y; z"', 'if [ -x "a b" ]; then\necho "x && y; z"\nfi'),
        ("[ -x X ] && ( a; b ) &>/dev/null", "if [ -x X ]; then\n( a; b ) &>/dev/null\nfi"),
    ],
)
def test_a_plain_guard_becomes_an_if(command: str, rewritten: str) -> None:
    assert unguard(command) == rewritten


@pytest.mark.parametrize(
    "command",
    [
        "[ -x X ] && a || b",  # b runs when the guard fails: not a plain guard
        "[ -x X ] && a; b",
        "[ -x X ] && a &",
        "test -x /usr/sbin/anacron || ( cd / && run-parts /etc/cron.daily )",
        "cd / && run-parts /etc/cron.hourly",
        "[ -x X ] && case $a in x) y;; esac",
        "[ -x X ] && cat <<EOF",
        "test -e /f && echo `date`",
        "[ -x X && y",
        "[ -x X ]",
    ],
)
def test_anything_else_is_kept_as_written(command: str) -> None:
    assert unguard(command) == command


@pytest.mark.parametrize(
    "command,present,missing",
    [
        ("[ -x {} ] && echo ran", (0, "ran\n"), (0, "")),
        ("test -x {} && echo ran && false", (1, "ran\n"), (0, "")),
    ],
)
def test_the_rewrite_runs_what_the_line_ran_and_a_failing_guard_exits_0(
    command: str, present: tuple[int, str], missing: tuple[int, str]
) -> None:
    for path, expected in (("/bin/sh", present), ("/no/such/tool", missing)):
        line = command.format(path)
        done = subprocess.run(["/bin/sh", "-c", unguard(line)], capture_output=True, text=True)
        assert (done.returncode, done.stdout) == expected
        cron = subprocess.run(["/bin/sh", "-c", line], capture_output=True, text=True)
        assert cron.stdout == done.stdout, "the same run as the line under cron"
