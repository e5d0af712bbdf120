"""The layers' import rules, read from the source (every import, including those inside functions).

A stopgap until an import-linter contract says the same: drivers import no application code,
and the pure decisions import no driver but the shared vocabulary at the bottom of drivers/ (the
errors and the physical constants, which import nothing, so every layer may use them).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PURE = sorted([ROOT / "controller" / f"{name}.py" for name in
               ("state", "command", "supervisor", "reasons", "estimator", "planner", "session", "indicate")]
              + list((ROOT / "controller" / "core").glob("*.py")))
SHARED = {"drivers.errors", "drivers.physics"}  # controller/errors.py re-exports the errors


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


@pytest.mark.parametrize("path", PURE, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_pure_decisions_import_no_driver(path):
    assert "drivers" not in _top(imported(path) - SHARED)


def test_the_shared_vocabulary_imports_nothing():
    for name in SHARED:
        assert imported(ROOT / (name.replace(".", "/") + ".py")) == set(), name
