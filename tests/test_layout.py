"""The house rules of the package: layers, no cycles, no private imports across rooms.

The layers contract itself lives in pyproject.toml ([tool.importlinter]) and is
checked by ``lint-imports`` in CI; these tests check it runs, that it would catch a
violation, and the rules import-linter has no contract for.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "soilmap"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _room(module: str) -> str:
    """The subpackage a module lives in (``soilmap`` for the shared top-level modules)."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 and (PACKAGE / parts[1]).is_dir() else "soilmap"


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_import_contract_holds():
    done = _lint_imports(REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 kept, 0 broken" in done.stdout


def test_import_contract_catches_an_upward_import(tmp_path):
    """A deliberate violation (the SOC stage importing the pipeline) breaks the contract."""
    shutil.copytree(PACKAGE, tmp_path / "soilmap", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    stock = tmp_path / "soilmap" / "soc" / "stock.py"
    stock.write_text(stock.read_text() + "\nimport soilmap.pipeline.run  # noqa\n")
    done = _lint_imports(tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "BROKEN" in done.stdout
    assert "soilmap.soc.stock -> soilmap.pipeline.run" in done.stdout


def test_no_import_cycles():
    graph = grimp.build_graph("soilmap", cache_dir=None)
    modules = sorted(graph.modules)
    cycles = []
    for module in modules:
        for imported in graph.find_modules_directly_imported_by(module):
            # A cycle through this edge: the imported module leads back to the importer.
            if imported != module and graph.chain_exists(imported, module):
                cycles.append(f"{module} -> {imported}")
    # Packages' __init__ modules re-export their children: not a cycle of code.
    cycles = [c for c in cycles if not c.split(" -> ")[1].startswith(c.split(" -> ")[0] + ".")]
    assert not cycles, "import cycles: " + "; ".join(cycles)


def test_no_private_names_imported_across_subpackages():
    """``_name`` is private to its subpackage, and so is a module ``sub/_module.py``.

    A private module of the top level (``soilmap._geodesy``) serves every stage.
    """
    found = []
    for module, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("soilmap")):
                continue
            target = node.module or ""
            if _room(target) == _room(module):
                continue
            private = [
                a.name for a in node.names if a.name.startswith("_") and not a.name.endswith("__")
            ]
            private_module = _room(target) != "soilmap" and target.split(".")[-1].startswith("_")
            if private or private_module:
                found.append(f"{path.relative_to(REPO)}:{node.lineno}: from {target} {private}")
    assert not found, "\n".join(found)


@pytest.mark.parametrize("limit", [600])
def test_modules_are_small(limit):
    long = {
        str(p.relative_to(REPO)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > limit
    }
    assert not long, long


def test_functions_are_short():
    long = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = node.end_lineno - node.lineno + 1
                if n > 100:
                    long.append(f"{path.relative_to(REPO)}:{node.name} ({n} lines)")
    assert not long, long


def test_package_is_typed_and_ships_its_data():
    assert (PACKAGE / "py.typed").exists()
    assert sorted(p.name for p in (PACKAGE / "soc" / "presets").glob("*.toml"))
    assert sorted(p.name for p in (PACKAGE / "landuse" / "presets").glob("*.csv"))
