"""The layers (docs/ARCHITECTURE.md) as a contract: import-linter checks pyproject.toml's
[tool.importlinter] on every import, inside functions too; no cycles; no module over 400 lines."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
from importlinter.cli import lint_imports

ROOT = Path(__file__).parent.parent
PACKAGES = ("controller", "drivers", "profiles")
SHARED = ("drivers/physics.py", "drivers/errors.py")  # the vocabulary at the bottom: imports nothing
MAX_LINES = 400


def _lint(folder: Path) -> subprocess.CompletedProcess:
    """import-linter on the packages in ``folder`` (a copy, so a test can break one on purpose)."""
    env = dict(os.environ, PYTHONPATH=str(folder))
    return subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command as c; "
                           "sys.exit(c(['--config', 'pyproject.toml', '--no-cache']))"],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=120)


def test_the_import_contracts_hold():
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0


def test_a_pure_module_that_imports_threading_breaks_the_contract(tmp_path):
    """The contract is not vacuous: a decision that could start a thread, even from inside a
    function, fails it and the message names the import."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    state = tmp_path / "controller" / "core" / "state.py"
    state.write_text(state.read_text(encoding="utf-8") + "\n\ndef _later():\n    import threading\n", encoding="utf-8")
    broken = _lint(tmp_path)
    assert broken.returncode != 0, broken.stdout
    assert "controller.core.state -> threading" in broken.stdout, broken.stdout
    state.write_text(state.read_text(encoding="utf-8").replace("    import threading\n", "    pass\n"), encoding="utf-8")
    assert _lint(tmp_path).returncode == 0  # and the copy itself was sound


def test_there_is_no_import_cycle():
    graph = grimp.build_graph(*PACKAGES)
    ours = {m for m in graph.modules if m.split(".")[0] in PACKAGES}
    cycles = [(a, b) for a in sorted(ours) for b in sorted(graph.find_modules_directly_imported_by(a) & ours)
              if a != b and graph.chain_exists(importer=b, imported=a)]
    assert cycles == []


def test_the_shared_vocabulary_imports_nothing():
    for name in SHARED:
        tree = ast.parse((ROOT / name).read_text(encoding="utf-8"))
        imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
                   and not (isinstance(n, ast.ImportFrom) and n.module == "__future__")]
        assert imports == [], name


def test_no_module_is_over_400_lines():
    long = {str(p.relative_to(ROOT)): n for package in PACKAGES for p in (ROOT / package).rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}
