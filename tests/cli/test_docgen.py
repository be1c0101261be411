"""Completions and man page generated from the command tree (`python -m jobctl.cli.docgen`)."""

from __future__ import annotations

import enum
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Literal

import click
import pytest
import typer

from jobctl.cli import docgen

REPO = Path(docgen.__file__).resolve().parents[2]
REGENERATE = "generated docs are stale: run `python -m jobctl.cli.docgen` and commit the result"
COMPLETIONS = (docgen.BASH, docgen.ZSH, docgen.FISH)
SECTIONS = [
    "NAME",
    "SYNOPSIS",
    "DESCRIPTION",
    "GLOBAL OPTIONS",
    "COMMANDS",
    "EXIT STATUS",
    "ENVIRONMENT",
    "FILES",
    "SEE ALSO",
]


class Color(enum.Enum):
    red = "red"
    blue = "blue"


def small_app() -> typer.Typer:
    """Two levels of commands, choices (Enum and Literal), flags, a path, hidden things."""
    app = typer.Typer(help="A tiny app for docgen tests.", add_completion=False)
    queue = typer.Typer(help="Manage queues.")
    app.add_typer(queue, name="queue")

    @app.callback()
    def root(
        db: Annotated[str | None, typer.Option("--db", help="Database path.")] = None,
        color: Annotated[Color, typer.Option("--color", help="Colour mode.")] = Color.red,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print less.")] = False,
    ) -> None:
        """A tiny app for docgen tests."""

    @app.command()
    def status(
        fmt: Annotated[
            Literal["table", "json"], typer.Option("--format", "-f", help="Output format.")
        ] = "table",
        secret: Annotated[bool, typer.Option("--secret", hidden=True, help="Sh.")] = False,
    ) -> None:
        """Show the status.

        A second paragraph with the details.
        """

    @app.command(hidden=True)
    def internal() -> None:
        """Not for humans."""

    @queue.command()
    def pause(
        name: Annotated[str, typer.Argument(help="Queue name.")],
        force: Annotated[bool, typer.Option("--force", help="Even when busy.")] = False,
    ) -> None:
        """Pause a queue."""

    @queue.command()
    def purge(
        name: Annotated[str, typer.Argument(help="Queue name.")],
        confirm: Annotated[str | None, typer.Option("--confirm", help="Queue name again.")] = None,
    ) -> None:
        """Purge a queue."""

    @queue.command()
    def load(path: Annotated[Path, typer.Argument(help="A JSONL file.")]) -> None:
        """Load jobs from a file."""

    return app


SMALL_COMMANDS = [
    "tapp status",
    "tapp queue",
    "tapp queue pause",
    "tapp queue purge",
    "tapp queue load",
]
SMALL_OPTIONS = ["--db", "--color", "--quiet", "-q", "--format", "-f", "--force", "--confirm"]


@pytest.fixture(scope="module")
def small() -> dict[str, str]:
    return docgen.render_all(typer.main.get_command(small_app()), "tapp")


@pytest.fixture(scope="module")
def real() -> dict[str, str]:
    from jobctl.cli import app

    return docgen.render_all(typer.main.get_command(app), "jobctl")


@pytest.fixture
def small_files(small: dict[str, str], tmp_path: Path) -> Path:
    for rel, text in small.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


def man_headers(man: str, macro: str) -> list[str]:
    return [m.strip('"').replace("\\-", "-") for m in re.findall(rf"^\.{macro} (.*)$", man, re.M)]


def man_section(man: str, title: str) -> str:
    """The text of one `.SS` subsection (up to the next .SS/.SH)."""
    start = man.index(f'.SS "{title}"\n')
    end = re.compile(r"^\.S[SH] ", re.M).search(man, start + 1)
    return man[start : end.start() if end else len(man)]


def bash_complete(script: Path, *words: str, cwd: Path | None = None) -> list[str]:
    """COMPREPLY after sourcing `script` with COMP_WORDS=words (the last word is completed)."""
    prog = words[0]
    code = (
        f'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _{prog}; '
        'printf "%s\\n" "${COMPREPLY[@]}"'
    )
    result = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", code, "bash", str(script), *words],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=30,
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr
    return [line for line in result.stdout.splitlines() if line]


# (a) a small app: every command and option reaches every output -------------------------------


def test_render_all_returns_the_four_files(small: dict[str, str]) -> None:
    assert set(small) == {*COMPLETIONS, docgen.MAN}
    assert all(text.endswith("\n") and not text.endswith("\n\n") for text in small.values())


@pytest.mark.parametrize("rel", COMPLETIONS)
def test_completions_list_commands_options_and_choices(small: dict[str, str], rel: str) -> None:
    text = small[rel]
    for path in SMALL_COMMANDS:
        assert re.search(rf"\b{path.split()[-1]}\b", text), f"{rel}: command {path!r} missing"
    for option in SMALL_OPTIONS:
        name = option if rel != docgen.FISH else re.sub(r"^--?", "", option)
        assert re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text), f"{rel}: {option}"
    for choice in ("red", "blue", "table", "json"):
        assert choice in text, f"{rel}: choice {choice!r} missing"
    assert "internal" not in text and "secret" not in text, f"{rel}: hidden item leaked"


def test_zsh_and_fish_carry_descriptions(small: dict[str, str]) -> None:
    zsh, fish = small[docgen.ZSH], small[docgen.FISH]
    assert zsh.startswith("#compdef tapp\n")
    assert "'pause:Pause a queue.'" in zsh
    assert "'[Output format.]:fmt:(table json)'" in zsh
    assert "[Colour mode.]:color:(red blue)" in zsh
    assert "-s f -l format -r -f -a 'table json' -d 'Output format.'" in fish
    assert "-a 'pause' -d 'Pause a queue.'" in fish
    assert fish.count("complete -c tapp ") > 10


def test_man_page_has_the_fixed_sections_and_one_subsection_per_command(
    small: dict[str, str],
) -> None:
    man = small[docgen.MAN]
    assert man.startswith('.\\"') and '\n.TH TAPP 1 "" "jobctl ' in man
    assert man_headers(man, "SH") == SECTIONS
    assert man_headers(man, "SS") == SMALL_COMMANDS
    assert "tapp \\- A tiny app for docgen tests." in man
    status = man_section(man, "tapp status")
    assert "Show the status." in status and "A second paragraph with the details." in status
    assert "\\fB\\-f, \\-\\-format <table|json>\\fR" in status
    assert "secret" not in man and "internal" not in man
    pause = man_section(man, "tapp queue pause")
    assert ".B tapp queue pause\n[OPTIONS] {name}" in pause
    assert "Queue name." in pause and "\\-\\-force" in pause and "Even when busy." in pause
    assert "Subcommands: \\fBtapp queue pause\\fR" in man_section(man, "tapp queue")
    globals_ = man[man.index(".SH GLOBAL OPTIONS") : man.index(".SH COMMANDS")]
    assert "\\-\\-db" in globals_ and "\\-\\-color" in globals_ and "Colour mode." in globals_


@pytest.mark.parametrize("which", ["small", "real"])
def test_man_page_renders_without_warnings(
    which: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if not shutil.which("groff"):
        pytest.skip("groff is not installed")
    page = tmp_path / "page.1"
    page.write_text(request.getfixturevalue(which)[docgen.MAN])
    result = subprocess.run(
        ["groff", "-man", "-ww", "-z", "-Tutf8", str(page)], capture_output=True, text=True
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_rendering_is_deterministic(small: dict[str, str]) -> None:
    again = docgen.render_all(typer.main.get_command(small_app()), "tapp")
    assert again == small
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", "".join(small.values()))


def test_plain_click_choice_and_path_types() -> None:
    @click.group()
    @click.option("--mode", type=click.Choice(["fast", "slow"]), help="Speed.")
    def cli(mode: str | None) -> None:
        """Plain click."""

    @cli.command()
    @click.argument("src", type=click.Path())
    def copy(src: str) -> None:
        """Copy a file."""

    out = docgen.render_all(cli, "pc")
    assert "'pc --mode') choices='fast slow'" in out[docgen.BASH]
    assert "'pc copy') args=''; files=1" in out[docgen.BASH]
    assert "(fast slow)" in out[docgen.ZSH]
    assert man_headers(out[docgen.MAN], "SS") == ["pc copy"]


# (b) the committed files are a fresh render of the real CLI ------------------------------------


@pytest.mark.parametrize("rel", [*COMPLETIONS, docgen.MAN])
def test_committed_file_is_current(real: dict[str, str], rel: str) -> None:
    path = REPO / rel
    assert path.is_file(), f"{rel} is missing: {REGENERATE}"
    assert path.read_text() == real[rel], f"{rel} differs from a fresh render: {REGENERATE}"


def test_check_passes_in_any_environment(tmp_path: Path) -> None:
    """Byte-stable: HOME, XDG dirs, JOBCTL_* and the terminal width must not leak in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JOBCTL_", "XDG_"))}
    env.update(
        HOME=str(tmp_path),
        XDG_STATE_HOME=str(tmp_path / "state"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        JOBCTL_DB=str(tmp_path / "x.db"),
        JOBCTL_OUTPUT="json",
        JOBCTL_NODE="elsewhere",
        COLUMNS="33",
        NO_COLOR="1",
        PYTHONWARNINGS="error",
    )
    for seed in ("0", "1", "4242"):  # nothing may depend on set or dict-of-set order
        result = subprocess.run(
            [sys.executable, "-m", "jobctl.cli.docgen", "--check", "--root", str(REPO)],
            capture_output=True,
            text=True,
            env={**env, "PYTHONHASHSEED": seed},
            cwd=tmp_path,
            timeout=120,
        )
        assert result.returncode == 0, f"PYTHONHASHSEED={seed}: {result.stderr}\n{REGENERATE}"


def test_main_writes_then_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert docgen.main(["--check", "--root", str(tmp_path)]) == 1
    assert "completions/jobctl.bash" in capsys.readouterr().err
    assert docgen.main(["--root", str(tmp_path)]) == 0
    written = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert written == {*COMPLETIONS, docgen.MAN}
    capsys.readouterr()
    assert docgen.main(["--check", "--root", str(tmp_path)]) == 0
    (tmp_path / docgen.MAN).write_text("stale\n")
    assert docgen.main(["--check", "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert (
        "man/jobctl.1" in err and "completions" not in err and "python -m jobctl.cli.docgen" in err
    )


def test_cli_start_up_does_not_import_docgen() -> None:
    code = "import sys, jobctl.cli; sys.exit('jobctl.cli.docgen' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0


# (c) every command of the real CLI is documented ------------------------------------------------


def test_every_real_command_has_help_and_a_man_section(real: dict[str, str]) -> None:
    from jobctl.cli import app

    cmds = docgen.walk(typer.main.get_command(app), "jobctl")
    assert len(cmds) > 5
    sections = man_headers(real[docgen.MAN], "SS")
    assert sections == [c.name for c in cmds[1:]]
    for c in cmds:
        assert c.help.strip(), f"`{c.name}` has no help text (add a docstring or help=)"
        for p in (*c.options, *c.arguments):
            assert p.help.strip(), f"`{c.name}`: {p.names[0]} has no help text"


def test_man_exit_status_lists_every_exit_code(real: dict[str, str]) -> None:
    from jobctl import errors

    man = real[docgen.MAN]
    exit_status = man[man.index(".SH EXIT STATUS") : man.index(".SH ENVIRONMENT")]
    codes = {v for k, v in vars(errors).items() if k.startswith("EXIT_") and isinstance(v, int)}
    assert codes, "jobctl.errors defines no EXIT_* codes"
    for code in codes:
        assert f".TP\n.B {code}\n" in exit_status, f"exit code {code} not documented"
    assert "Nagios" in exit_status


# (d) the scripts are valid and actually complete ----------------------------------------------


def test_bash_script_is_valid(small_files: Path) -> None:
    subprocess.run(["bash", "-n", str(small_files / docgen.BASH)], check=True)
    subprocess.run(["bash", "-n", str(REPO / docgen.BASH)], check=True)


def test_bash_completes_the_real_cli() -> None:
    script = REPO / docgen.BASH
    assert bash_complete(script, "jobctl", "qu") == ["queue"]
    assert "pause" in bash_complete(script, "jobctl", "queue", "")


@pytest.mark.parametrize(
    "words,expected",
    [
        (["schedule", "add", "x", "--overlap", ""], ["forbid", "allow", "replace"]),
        (["schedule", "add", "x", "--misfire", ""], ["skip", "once", "all"]),
        (["enqueue", "--backoff", ""], ["exponential", "fixed", "linear"]),
        (["list", "--state", "s"], ["succeeded", "scheduled"]),
        (["retry", "--state", ""], ["dead", "retrying"]),
        (["dlq", "list", "--class", "s"], ["signal", "spawn"]),
        (["list", "-o", ""], ["table", "json"]),
        (["-o", "j"], ["json"]),
    ],
)
def test_bash_offers_the_choices_of_an_option_not_file_names(
    tmp_path: Path, words: list[str], expected: list[str]
) -> None:
    # Given files in the directory, which a value without choices would complete to
    (tmp_path / "schedule.txt").write_text("")
    (tmp_path / "state.json").write_text("")
    # When an option with choices takes its value, Then its choices are offered, no file
    assert bash_complete(REPO / docgen.BASH, "jobctl", *words, cwd=tmp_path) == expected


def test_bash_completes_subcommands_options_and_values(small_files: Path) -> None:
    script = small_files / docgen.BASH
    assert bash_complete(script, "tapp", "qu") == ["queue"]
    assert bash_complete(script, "tapp", "") == ["status", "queue"]
    assert bash_complete(script, "tapp", "queue", "p") == ["pause", "purge"]
    assert bash_complete(script, "tapp", "--db", "x.db", "-q", "queue", "l") == ["load"]
    assert bash_complete(script, "tapp", "--db", "=", "x", "qu") == ["queue"]
    assert bash_complete(script, "tapp", "--color", "") == ["red", "blue"]
    assert bash_complete(script, "tapp", "status", "--format", "=", "j") == ["json"]
    assert bash_complete(script, "tapp", "status", "-f", "") == ["table", "json"]
    assert bash_complete(script, "tapp", "queue", "pause", "--") == ["--force", "--help"]
    assert bash_complete(script, "tapp", "--") == ["--db", "--color", "--quiet", "--help"]
    assert bash_complete(script, "tapp", "status", "--s") == []  # hidden option
    assert bash_complete(script, "tapp", "in") == []  # hidden command
    (small_files / "jobs.jsonl").write_text("")
    assert bash_complete(script, "tapp", "queue", "load", "jo", cwd=small_files) == ["jobs.jsonl"]


def test_zsh_script_is_valid(small_files: Path) -> None:
    if not shutil.which("zsh"):
        pytest.skip("zsh is not installed")
    for script in (small_files / docgen.ZSH, REPO / docgen.ZSH):
        subprocess.run(["zsh", "-n", str(script)], check=True)
        load = f"autoload -U compinit && compinit -u -D && source {script}"
        result = subprocess.run(["zsh", "-f", "-c", load], capture_output=True, text=True)
        assert result.returncode == 0 and result.stderr == "", result.stderr


def fish_complete(script: Path, line: str) -> list[str]:
    code = f"source {script}; complete -C {line!r}"
    result = subprocess.run(["fish", "--no-config", "-c", code], capture_output=True, text=True)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    return [row.split("\t")[0] for row in result.stdout.splitlines()]


def test_fish_script_is_valid_and_completes(small_files: Path) -> None:
    if not shutil.which("fish"):
        pytest.skip("fish is not installed")
    for script in (small_files / docgen.FISH, REPO / docgen.FISH):
        subprocess.run(["fish", "--no-config", "--no-execute", str(script)], check=True)
    script = small_files / docgen.FISH
    assert fish_complete(script, "tapp qu") == ["queue"]
    assert fish_complete(script, "tapp --db x queue p") == ["pause", "purge"]
    assert fish_complete(script, "tapp --color ") == ["blue", "red"]
    assert "--force" in fish_complete(script, "tapp queue pause --")
    assert fish_complete(REPO / docgen.FISH, "jobctl qu") == ["queue"]
