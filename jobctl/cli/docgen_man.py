"""The command-tree model and the roff man page (`man/jobctl.1`) for `jobctl.cli.docgen`.

Everything per command comes from the command tree; only EXIT STATUS, ENVIRONMENT, FILES and
SEE ALSO are written here. No date, so the output is byte-stable for a given version.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any


@dataclass(frozen=True)
class Param:
    """One visible option or argument, reduced to what the generators need."""

    names: tuple[str, ...]  # option flags (primary then secondary); an argument's name
    dest: str
    term: str  # as in --help, e.g. "-o, --output <str>"
    help: str  # the parameter's own help
    doc: str  # help with --help's extras ([default: ...; env var: ...])
    takes_value: bool
    choices: tuple[str, ...]
    files: bool
    repeatable: bool
    is_help: bool = False


@dataclass(frozen=True)
class Cmd:
    """One visible command (group or leaf) at `path`, e.g. ("jobctl", "queue", "pause")."""

    path: tuple[str, ...]
    help: str  # full help text (before any \\f)
    summary: str  # one line
    usage: str  # usage after the command path, e.g. "[OPTIONS] COMMAND [ARGS]..."
    options: tuple[Param, ...]
    arguments: tuple[Param, ...]
    children: tuple[str, ...]  # visible subcommand names

    @property
    def name(self) -> str:
        return " ".join(self.path)


def _clean(text: str | None) -> str:
    """Dedent help text and cut it at click's form feed marker."""
    lines = (text or "").expandtabs().partition("\f")[0].splitlines()
    if not lines:
        return ""
    indent = min((len(x) - len(x.lstrip()) for x in lines[1:] if x.strip()), default=0)
    lines = [lines[0].strip(), *(x[indent:].rstrip() for x in lines[1:])]
    return "\n".join(lines).strip()


def _summary(text: str, limit: int | None = 100) -> str:
    """The first paragraph on one line, shortened at a word boundary past `limit`."""
    first = " ".join(text.split("\n\n")[0].replace("\b", "").split())
    if limit is None or len(first) <= limit:
        return first
    return first[: limit - 3].rsplit(" ", 1)[0].rstrip(",;:") + "..."


def _choices(param: Any) -> tuple[str, ...]:
    desc = getattr(param, "type_descriptor", None)  # typer >= 0.20 (vendored click)
    values = desc.choices if desc is not None else getattr(param.type, "choices", None)
    if not values:
        return ()
    return tuple(str(v.value) if isinstance(v, Enum) else str(v) for v in values)


def _files(param: Any) -> bool:
    desc = getattr(param, "type_descriptor", None)
    if desc is not None:
        return bool(desc.is_path or desc.is_file)
    return getattr(param.type, "name", "") in ("path", "filename", "file")


def _param(param: Any, ctx: Any, is_help: bool) -> Param:
    option = param.param_type_name == "option"
    names: tuple[str, ...] = (param.name or "",)
    if option:  # short flags first, as in --help; the help option's names come from a set
        key = (lambda n: (n.startswith("--"), n)) if is_help else (lambda n: n.startswith("--"))
        names = (*sorted(param.opts, key=key), *param.secondary_opts)
    record = param.get_help_record(ctx) or ((param.name or "").upper(), "")
    return Param(
        names=names,
        dest=param.name or names[0].lstrip("-"),
        term=record[0],
        help=_summary(_clean(getattr(param, "help", None))),
        doc=" ".join(record[1].split()),
        takes_value=option and not param.is_flag and not getattr(param, "count", False),
        choices=_choices(param),
        files=_files(param),
        repeatable=bool(getattr(param, "multiple", False) or param.nargs != 1),
        is_help=is_help,
    )


def walk(command: Any, prog_name: str | None = None) -> list[Cmd]:
    """Visible commands of the tree, depth first (a group before its subcommands)."""
    out: list[Cmd] = []

    def visit(cmd: Any, path: tuple[str, ...], parent: Any) -> None:
        ctx = cmd.context_class(cmd, info_name=path[-1], parent=parent, **cmd.context_settings)
        help_option = cmd.get_help_option(ctx)
        params = [p for p in cmd.get_params(ctx) if not getattr(p, "hidden", False)]
        subs: list[tuple[str, Any]] = []
        if hasattr(cmd, "list_commands"):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                if sub is not None and not sub.hidden:
                    subs.append((name, sub))
        text = _clean(cmd.help)
        out.append(
            Cmd(
                path=path,
                help=text,
                summary=_summary(_clean(cmd.short_help) or text),
                usage=" ".join(cmd.collect_usage_pieces(ctx)),
                options=tuple(
                    _param(p, ctx, p is help_option)
                    for p in params
                    if p.param_type_name == "option"
                ),
                arguments=tuple(
                    _param(p, ctx, False) for p in params if p.param_type_name == "argument"
                ),
                children=tuple(name for name, _ in subs),
            )
        )
        for name, sub in subs:
            visit(sub, (*path, name), ctx)

    visit(command, (prog_name or command.name or "jobctl",), None)
    return out


EXIT_STATUS = [
    ("0", "Success."),
    ("1", "The operation failed."),
    ("2", "Usage error or invalid input, including an invalid configuration."),
    ("3", "Not found: no such job, dead-letter entry, queue or file."),
    (
        "4",
        "Refused: a guard rail was not confirmed (see \\fB--confirm\\fR), a grace period is "
        "not over, or permission was denied.",
    ),
    (
        "75",
        "Temporarily unavailable (EX_TEMPFAIL): a lock is busy, the queue sheds load, the "
        "database stays busy, or a daemon is already running. Retrying later may succeed.",
    ),
]
MONITORING = (
    "Monitoring commands (health and threshold checks meant for Nagios, Icinga and the like) "
    "use the Nagios plugin convention instead: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. "
    "Commands that wait for a job and report its outcome say so in their description."
)
ENVIRONMENT = [
    (
        "JOBCTL_DB",
        "Database path or sqlite:/// URL; the default for \\fB--db\\fR. Also set "
        "for every job the daemon runs.",
    ),
    ("JOBCTL_CONFIG", "Config file; the default for \\fB--config\\fR."),
    ("JOBCTL_OUTPUT", "Output format, table or json; the default for \\fB--output\\fR."),
    ("JOBCTL_NODE", "Node name of a daemon (default: the host name). Also set for every job."),
    (
        "JOBCTL_KAFKA_PASSWORD",
        "SASL password for \\fBkafka-lag\\fR and the daemon's lag sampler (unless "
        "\\fB--sasl-password-file\\fR or kafka.sasl_password_file is given).",
    ),
    ("JOBCTL_KAFKA_BOOTSTRAP_SERVERS", "The default for \\fBkafka-lag --bootstrap-servers\\fR."),
    ("NO_COLOR", "When set, output has no colour. Colour is only used on a terminal anyway."),
    ("XDG_STATE_HOME", "Base of the default database path (default: ~/.local/state)."),
    ("XDG_CONFIG_HOME", "Base of the default config path (default: ~/.config)."),
]
FILES = [
    (
        "$XDG_STATE_HOME/jobctl/jobctl.db",
        "The default database; /var/lib/jobctl/jobctl.db when run as root.",
    ),
    (
        "$XDG_STATE_HOME/jobctl/jobctl.logs/",
        "Captured output of every attempt, next to the "
        "database (for a database \\fIX\\fR.db: \\fIX\\fR.logs/).",
    ),
    (
        "$XDG_CONFIG_HOME/jobctl/config.yaml",
        "The default config file (YAML or TOML); /etc/jobctl/config.yaml when run as root.",
    ),
]
SEE_ALSO = (
    "\\fBcrontab\\fR(5), \\fBsqlite3\\fR(1), \\fBsystemd.service\\fR(5), \\fBsystemctl\\fR(1)"
)


def roff(text: str) -> str:
    """Escape plain text for roff: backslashes, hyphens and control characters at line start."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join("\\&" + ln if ln[:1] in (".", "'") else ln for ln in text.split("\n"))


def _fixed(text: str) -> str:
    """Hand-written roff: only hyphens need escaping (font escapes are kept)."""
    return text.replace("-", "\\-")


def paragraphs(text: str) -> list[str]:
    """Help text as roff paragraphs; click's `\\b` blocks stay unfilled."""
    out = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        if block.startswith("\b"):
            out.append(f".PP\n.nf\n{roff(block[1:].strip(chr(10)))}\n.fi")
        else:
            out.append(".PP\n" + roff(" ".join(block.split())))
    return out


def _params(title: str, params: tuple[Param, ...]) -> list[str]:
    items = [p for p in params if not p.is_help]
    if not items:
        return []
    out = [f".PP\n{title}:"]
    out += [f".TP\n\\fB{roff(p.term)}\\fR\n{roff(p.doc)}" for p in items]
    return out


def _section(c: Cmd) -> list[str]:
    out = [f'.SS "{roff(c.name)}"', f".B {roff(c.name)}\n{roff(c.usage)}"]
    out += paragraphs(c.help)
    if c.children:
        subs = ", ".join(f"\\fB{roff(c.name)} {roff(n)}\\fR" for n in c.children)
        out.append(f".PP\nSubcommands: {subs}.")
    return out + _params("Arguments", c.arguments) + _params("Options", c.options)


def render_man(cmds: list[Cmd]) -> str:
    """The whole man page: section 1, no date."""
    from jobctl import __version__

    root, prog = cmds[0], cmds[0].path[0]
    lines = [
        f'.\\" Man page for {prog}. Generated by `python \\-m jobctl.cli.docgen`; do not edit.',
        f'.TH {prog.upper()} 1 "" "jobctl {__version__}" "User Commands"',
        ".SH NAME",
        f"{roff(prog)} \\- {roff(_summary(root.help, limit=None))}",
        ".SH SYNOPSIS",
        f".B {roff(prog)}\n{roff(root.usage)}",
        ".SH DESCRIPTION",
        *paragraphs(root.help),
        ".PP",
        f"Run \\fB{roff(prog)} \\fIcommand\\fB \\-\\-help\\fR for the help of one command.",
    ]
    if root.options:
        lines += [".SH GLOBAL OPTIONS", "These come before the command name."]
        lines += [f".TP\n\\fB{roff(p.term)}\\fR\n{roff(p.doc)}" for p in root.options]
    if len(cmds) > 1:
        lines.append(".SH COMMANDS")
        for c in cmds[1:]:
            lines += _section(c)
    lines.append(".SH EXIT STATUS")
    lines += [f".TP\n.B {code}\n{_fixed(text)}" for code, text in EXIT_STATUS]
    lines += [".PP", _fixed(MONITORING), ".SH ENVIRONMENT"]
    lines += [f".TP\n.B {name}\n{_fixed(text)}" for name, text in ENVIRONMENT]
    lines.append(".SH FILES")
    lines += [f".TP\n.I {_fixed(name)}\n{_fixed(text)}" for name, text in FILES]
    lines += [".SH SEE ALSO", SEE_ALSO]
    return "\n".join(lines) + "\n"
