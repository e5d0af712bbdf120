"""The layers' import rules, read from the source (every import, including those inside functions).

A stopgap until an import-linter contract says the same: drivers import no application code,
and the pure decisions import no driver.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PURE = ("state", "command", "supervisor", "reasons", "estimator", "planner", "session", "indicate")


def imported(path: Path) -> set[str]:
    """Every module ``path`` imports, wherever the import statement is."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def _top(names: set[str]) -> set[str]:
    return {name.split(".")[0] for name in names}


def test_the_walk_finds_imports_inside_functions(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from controller.state import BUTTONS\n    import controller.errors\n",
                     encoding="utf-8")
    assert imported(probe) == {"controller.state", "controller.errors"}


@pytest.mark.parametrize("path", sorted((ROOT / "drivers").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_drivers_import_no_application_code(path):
    assert "controller" not in _top(imported(path))


@pytest.mark.parametrize("name", PURE)
def test_the_pure_decisions_import_no_driver(name):
    assert "drivers" not in _top(imported(ROOT / "controller" / f"{name}.py"))
