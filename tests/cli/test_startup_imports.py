"""Start-up (issue 16): `jobctl enqueue` imports only what enqueue needs. Checked in a real
subprocess: the modules a command leaves in sys.modules."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jobctl.cli.lazy import COMMAND_MODULES, load_all

# Runs the CLI, then writes its sys.modules as JSON to the file $MODULES_OUT names.
RUNNER = """
import json, os, sys
from jobctl.cli import main
try:
    main()
except SystemExit as exc:
    code = exc.code
with open(os.environ["MODULES_OUT"], "w") as out:
    json.dump(sorted(sys.modules), out)
sys.exit(code)
"""

NOT_FOR_ENQUEUE = (
    "jobctl.runtime",  # the daemon, its HTTP server and metrics
    "jobctl.cli.daemon",
    "jobctl.cli.schedules",
    "jobctl.cli.admin",
    "jobctl.store.postgres",
    "jobctl.store.sqlite.feed",
    "prometheus_client",
    "psycopg",
    "http.server",
    "hashlib",  # OpenSSL: only PostgreSQL URLs and tokens need it
    "jobctl.config.health",  # config sections enqueue never reads (config/section.py)
    "jobctl.config.kafka",
    "jobctl.config.notify",
    "jobctl.domain.notify",
    "yaml",
    "tomllib",
    "croniter",
    "psutil",
    "rich",
)


def modules_of(tmp: Path, *args: str, config: Path | None = None) -> tuple[set[str], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBCTL_")}
    env.update(
        HOME=str(tmp), XDG_CONFIG_HOME=str(tmp / "xdg"), MODULES_OUT=str(tmp / "modules.json")
    )
    if config is not None:
        env["JOBCTL_CONFIG"] = str(config)
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER, "--db", str(tmp / "jobs.db"), *args],
        env=env, cwd=tmp, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return set(json.loads((tmp / "modules.json").read_text())), proc.stdout


def loaded(modules: set[str], name: str) -> bool:
    return any(m == name or m.startswith(name + ".") for m in modules)


@pytest.mark.skipif(os.geteuid() == 0 and Path("/etc/jobctl/config.yaml").exists(),
                    reason="root with /etc/jobctl/config.yaml: a config file exists")  # fmt: skip
def test_enqueue_imports_nothing_it_does_not_need(tmp_path: Path) -> None:
    modules, out = modules_of(tmp_path, "enqueue", "--", "true")
    assert out.strip().isdigit()  # it did enqueue
    assert "jobctl.cli.jobs" in modules and "sqlite3" in modules
    assert [name for name in NOT_FOR_ENQUEUE if loaded(modules, name)] == []


def test_a_config_file_brings_its_parser(tmp_path: Path) -> None:
    """The control: the check above can see a parser load (YAML only with a YAML file)."""
    config = tmp_path / "config.yaml"
    config.write_text("daemon:\n  concurrency: 2\n")
    modules, _ = modules_of(tmp_path, "enqueue", "--", "true", config=config)
    assert "yaml" in modules
    assert not loaded(modules, "jobctl.runtime")


def test_help_lists_every_command(tmp_path: Path) -> None:
    _, out = modules_of(tmp_path, "--help")
    section = out.split("\nCommands:\n", 1)[1]
    listed = [line.split()[0] for line in section.splitlines() if line.startswith("  ")]
    assert listed == list(COMMAND_MODULES)


def test_the_lazy_table_matches_what_the_modules_register() -> None:
    """COMMAND_MODULES names every command the modules register, in their help order
    (commands by module, then groups), each with the module that registers it."""
    import typer

    from jobctl.cli.app import app

    load_all()
    commands = [
        (info.name or typer.main.get_command_name(info.callback.__name__), info.callback)
        for info in app.registered_commands
        if info.callback is not None
    ]
    groups = [(g.name, g.typer_instance) for g in app.registered_groups]
    # registration order is import order, which other tests in this process may change
    order = {module: n for n, module in enumerate(dict.fromkeys(COMMAND_MODULES.values()))}
    registered = sorted(commands, key=lambda c: order[c[1].__module__])
    groups.sort(key=lambda g: order[g[1].registered_commands[0].callback.__module__])
    names = [name for name, _ in registered] + [name for name, _ in groups]
    assert names == list(COMMAND_MODULES)
    for name, callback in registered:
        assert COMMAND_MODULES[name] == callback.__module__, name
    for name, typer_instance in groups:
        module = {i.callback.__module__ for i in typer_instance.registered_commands}
        assert module == {COMMAND_MODULES[name]}, name


# Runs the CLI with the cyclic collector on, as Python starts; then writes whether it is on.
GC_RUNNER = """
import gc, os, sys
from jobctl.cli import main
try:
    main()
except SystemExit as exc:
    code = exc.code
with open(os.environ["GC_OUT"], "w") as out:
    out.write(str(gc.isenabled()))
sys.exit(code)
"""
GC_HANDLER = """
import gc


def check(payload):
    with open(payload["out"], "w") as out:
        out.write(str(gc.isenabled()))
"""


def test_commands_run_with_the_cyclic_collector_on(tmp_path: Path) -> None:
    """main() pauses the collector while the CLI loads, never while a command runs (a
    daemon's handler sees it on) nor after main() returns."""
    (tmp_path / "gcmod.py").write_text(GC_HANDLER)
    config = tmp_path / "config.yaml"
    config.write_text('job_types:\n  - {name: check, handler: "gcmod:check"}\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBCTL_")}
    env.update(
        HOME=str(tmp_path),
        XDG_CONFIG_HOME=str(tmp_path / "xdg"),
        JOBCTL_DB=str(tmp_path / "jobs.db"),
        JOBCTL_CONFIG=str(config),
        PYTHONPATH=str(tmp_path),
        GC_OUT=str(tmp_path / "gc.out"),
    )
    handler_out = tmp_path / "handler.out"
    payload = json.dumps({"out": str(handler_out)})
    for args in (
        ["enqueue", "--type", "check", "--payload", payload],
        ["daemon", "--burst", "--concurrency", "1"],
    ):
        proc = subprocess.run(
            [sys.executable, "-c", GC_RUNNER, *args], env=env, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr
        assert (tmp_path / "gc.out").read_text() == "True", args
    assert handler_out.read_text() == "True"
