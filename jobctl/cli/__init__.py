"""The command line: a thin layer over jobctl's Python API. `main()` is the one place where
errors become stderr lines and exit codes. Command modules load lazily (jobctl/cli/lazy.py):
`jobctl enqueue` imports jobctl.cli.jobs only."""

from __future__ import annotations

import gc
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobctl.cli.app import app

__all__ = ["app", "main"]


class _Package(types.ModuleType):
    """This package: `jobctl.cli.app` is the typer app (as when the package imported it
    eagerly), loaded on first use, so that main() loads typer with the collector paused."""

    @property
    def app(self) -> Any:
        from jobctl.cli.app import app

        return app

    @app.setter
    def app(self, _submodule: Any) -> None:
        """The import system binds the submodule of that name here: the app stays."""


sys.modules[__name__].__class__ = _Package


def _verbose(argv: list[str]) -> bool:
    head = argv[: argv.index("--")] if "--" in argv else argv
    return "-v" in head or "--verbose" in head


def _flat(text: str) -> str:
    """A message on one line, control characters escaped (it may quote user text)."""
    from jobctl.cli.render import escape

    return escape(" ".join(text.split()))


def _one_line(exc: Exception) -> str:
    problems = getattr(exc, "problems", None)
    if problems and len(problems) > 1:
        return _flat(f"{problems[0]} (and {len(problems) - 1} more: see `jobctl config check`)")
    return _flat(str(exc)) or type(exc).__name__


def main(argv: list[str] | None = None) -> None:
    """Run the CLI and exit with the documented code."""
    # Start-up allocates much and frees little: the cyclic collector, paused while typer
    # and the command's modules load (~4 ms of collections otherwise), resumes once the
    # command is known (cli/lazy.py) or, at the latest, when it returns.
    pause_collector()
    try:
        _run(sys.argv[1:] if argv is None else argv)
    finally:
        resume_collector()


_paused = [False]  # main() paused the cyclic collector (it was enabled)


def pause_collector() -> None:
    if gc.isenabled():
        gc.disable()
        _paused[0] = True


def resume_collector() -> None:
    """Re-enable the collector if pause_collector() disabled it (not if someone else did).
    What start-up loaded (modules, the command tree: it lives as long as the process) is
    moved out of the collector's sight first: no collection, this first one or the one at
    exit, walks it again."""
    if _paused[0]:
        _paused[0] = False
        gc.freeze()
        gc.enable()


def _run(args: list[str]) -> None:
    import typer

    from jobctl.cli.app import app
    from jobctl.cli.compat import UsageError
    from jobctl.errors import EXIT_FAILED, EXIT_USAGE, JobctlError

    command = typer.main.get_command(app)
    try:
        result = command.main(args=args, prog_name="jobctl", standalone_mode=False)
        code = result if isinstance(result, int) else 0
    except typer.Exit as exc:
        code = exc.exit_code
    except UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError" and exc.ctx is not None:
            sys.stderr.write(exc.ctx.get_help() + "\n")
            sys.exit(EXIT_USAGE)
        where = f"{exc.ctx.command_path}: " if exc.ctx else "jobctl: "
        sys.stderr.write(f"{where}error: {_flat(exc.format_message())}\n")
        code = EXIT_USAGE
    except typer.Abort:
        sys.stderr.write("jobctl: aborted\n")
        code = 130
    except JobctlError as exc:
        if _verbose(args):
            import traceback

            traceback.print_exc()
        sys.stderr.write(f"jobctl: error: {_one_line(exc)}\n")
        code = exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("jobctl: interrupted\n")
        code = 130
    except BrokenPipeError:
        code = EXIT_FAILED
    except Exception as exc:  # a bug: one line unless -v
        if _verbose(args):
            raise
        sys.stderr.write(
            f"jobctl: internal error: {type(exc).__name__}: {_one_line(exc)}"
            " (run with -v for details)\n"
        )
        code = EXIT_FAILED
    sys.stdout.flush()
    sys.exit(code)
