"""The layering of DESIGN section 3, enforced on the source.

Light code never pulls in heavy code. The DAGs are parsed by the scheduler and DAG processor every
few seconds, in an image that has neither torch nor pycolmap; one stray import there breaks every
DAG at once. The package's floors, its independent siblings, the ban on heavy imports from the
light side and the ban on circles are import-linter contracts (``[tool.importlinter]`` in
pyproject.toml), checked here and by ``make lint``.

Two rules import-linter cannot state, since its contracts forbid but do not allow-list, are
checked here on its import graph (grimp's): ``splatflow.contract`` uses only the standard library,
and ``splatflow.formats`` only the standard library, numpy, Pillow and plyfile. The DAG files and
the plugins are not a package import-linter can read; their own imports are checked with ``ast``,
and everything they reach inside splatflow is covered by the contracts.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import grimp
import pytest
from importlinter.cli import lint_imports

REPO_ROOT = Path(__file__).resolve().parent.parent
ALLOWED_EXTERNAL = {
    "splatflow.contract": frozenset(),
    "splatflow.formats": frozenset({"numpy", "PIL", "plyfile"}),
}
"""What each package may import besides the standard library and splatflow itself."""
LIGHT_SIDE = ("splatflow.pipeline", "splatflow.viewer_plugin")
"""What the DAG files and plugins may import of splatflow (the forbidden contract keeps it light)."""
DAG_AND_PLUGIN_LIBRARIES = frozenset({"airflow", "pendulum"})


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("splatflow", include_external_packages=True)


def test_the_import_contracts_hold() -> None:
    assert lint_imports(config_filename=str(REPO_ROOT / "pyproject.toml"), no_cache=True, no_logo=True) == 0


@pytest.mark.parametrize("package", sorted(ALLOWED_EXTERNAL))
def test_shared_packages_import_only_what_both_sides_have(graph: grimp.ImportGraph, package: str) -> None:
    allowed = ALLOWED_EXTERNAL[package] | sys.stdlib_module_names | {"splatflow"}
    members = {package, *graph.find_descendants(package)}
    beyond = {
        f"{module} imports {imported}"
        for module in members
        for imported in graph.find_modules_directly_imported_by(module)
        if imported.split(".")[0] not in allowed
    }
    assert sorted(beyond) == []


def _top_level_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", sorted([*REPO_ROOT.glob("dags/*.py"), *REPO_ROOT.glob("plugins/*.py")]), ids=str)
def test_dag_files_and_plugins_import_only_airflow_and_the_light_side(path: Path) -> None:
    for module in _top_level_imports(path):
        root = module.split(".")[0]
        if root == "splatflow":
            assert module.startswith(LIGHT_SIDE), f"{path.name} imports {module}"
        else:
            assert root in DAG_AND_PLUGIN_LIBRARIES | sys.stdlib_module_names, f"{path.name} imports {module}"
