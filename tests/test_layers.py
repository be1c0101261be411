"""The layering of ARCHITECTURE.md, enforced by walking every module's imports with ast:
domain → config → store → ops | client → runtime → cli. SQL drivers only in store/,
typer/rich/print only in cli/, and only clock.py reads the time."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "jobctl"
# A layer may import the layers listed for it (and itself).
ALLOWED = {
    "domain": {"domain"},
    "config": {"domain", "config"},
    "store": {"domain", "config", "store"},
    "ops": {"domain", "config", "store", "ops"},
    "client": {"domain", "config", "store"},
    "runtime": {"domain", "config", "store", "ops", "runtime"},
    "cli": {"domain", "config", "store", "ops", "client", "runtime", "cli"},
}
SHARED = {"errors", "clock", "paths", "__init__"}  # jobctl/*.py importable from anywhere


def _layer(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    if rel.parts[0] == "client.py":
        return "client"
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _module_name(path: Path) -> list[str]:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def _is_module(name: str) -> bool:
    where = PACKAGE.parent.joinpath(*name.split("."))
    return where.with_suffix(".py").exists() or (where / "__init__.py").exists()


def _imports(path: Path) -> list[str]:
    """Every module `path` imports, relative imports resolved to absolute names."""
    tree = ast.parse(path.read_text())
    package = _module_name(path)
    if path.name != "__init__.py":
        package = package[:-1]
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - (node.level - 1)] if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            names.append(module)
            names += [  # `from pkg import module`
                f"{module}.{a.name}" for a in node.names if _is_module(f"{module}.{a.name}")
            ]
    return names


MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_imports_respect_the_layers(path: Path) -> None:
    layer = _layer(path)
    if layer in SHARED or layer == "__main__":
        return
    for name in _imports(path):
        parts = name.split(".")
        if parts[0] != "jobctl" or len(parts) < 2:
            continue
        target = "client" if parts[1] == "client" else parts[1]
        if target in SHARED:
            continue
        assert target in ALLOWED[layer], f"{path.name} ({layer}) imports {name} ({target})"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_drivers_ui_and_time_stay_in_their_place(path: Path) -> None:
    layer = _layer(path)
    names = {n.split(".")[0] for n in _imports(path)}
    if layer != "store":
        assert not names & {"sqlite3", "psycopg"}, f"{path.name}: SQL drivers only in store/"
    if layer != "cli":
        assert not names & {"typer", "rich", "click"}, f"{path.name}: UI libraries only in cli/"
        calls = {
            node.func.id
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        }
        assert "print" not in calls, f"{path.name}: print() only in cli/"
    source = path.read_text()
    if path.name != "clock.py":
        for call in ("datetime.now(", "datetime.utcnow(", "time.time("):
            assert call not in source, f"{path.name}: reads the time ({call}); use jobctl.clock"


BACKENDS = ("jobctl.store.sqlite", "jobctl.store.postgres")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_nothing_outside_the_store_imports_a_backend(path: Path) -> None:
    """The store contract (store/protocol.py) is all the rest of jobctl may rely on."""
    if _layer(path) == "store":
        return
    for name in _imports(path):
        assert not name.startswith(BACKENDS), f"{path.name} imports the backend {name}"
