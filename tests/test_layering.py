"""The layering of DESIGN section 3, enforced on the source.

Light code never pulls in heavy code. The DAGs are parsed by the scheduler and DAG processor
every few seconds, in an image that has neither torch nor pycolmap; one stray import there
breaks every DAG at once. So the DAG files, the plugins and ``splatflow.pipeline`` (and every
splatflow module they import, transitively) must not import torch, pycolmap, gsplat or
``splatflow.stages``. ``splatflow.formats`` is shared by the light side and the stage containers,
so it may use only the standard library, numpy, Pillow and plyfile; ``splatflow.contract``, the
ground floor both sides build on, only the standard library.

No circles and no upward arrows: every splatflow module stands on a floor of ``FLOORS`` and
imports only from its own floor or those below, and no two modules (nor two packages) import
each other, however indirectly, ``TYPE_CHECKING`` imports included.

The check reads the code with ``ast`` instead of importing it, so it also sees imports inside
functions and the ``__import__`` / ``importlib.import_module`` forms.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "pycolmap", "gsplat", "splatflow.stages")
FORMATS_THIRD_PARTY = {"numpy", "PIL", "plyfile"}
DYNAMIC_IMPORTERS = {"__import__", "import_module"}


@dataclass(frozen=True)
class Import:
    """One module a piece of source imports, with the line that does it."""

    module: str
    line: int


def _resolve_relative(module: str | None, level: int, package: str) -> str:
    if level == 0:
        return module or ""
    parts = package.split(".") if package else []
    base = parts[: len(parts) - level + 1]
    return ".".join([*base, module] if module else base)


def _dynamic_import(node: ast.Call, package: str) -> str | None:
    """The literal module of ``__import__("x")`` or ``(importlib.)import_module("x"[, "pkg"])``."""
    func = node.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    if name not in DYNAMIC_IMPORTERS or not node.args:
        return None
    first = node.args[0]
    if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
        return None
    target: str = first.value
    if not target.startswith("."):
        return target
    anchor = node.args[1] if len(node.args) > 1 else None
    relative_to = anchor.value if isinstance(anchor, ast.Constant) and isinstance(anchor.value, str) else package
    stripped = target.lstrip(".")
    return _resolve_relative(stripped or None, len(target) - len(stripped), relative_to)


def imports_of(source: str, package: str) -> Iterator[Import]:
    """Every module ``source`` imports, absolute, as written in a module of ``package``.

    ``from x import y`` yields both ``x`` and ``x.y``: ``y`` may be a submodule
    (``from splatflow import stages``), and a forbidden prefix must catch that too.
    """
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_relative(node.module, node.level, package)
            yield Import(base, node.lineno)
            for alias in node.names:
                if alias.name != "*":
                    yield Import(f"{base}.{alias.name}" if base else alias.name, node.lineno)
        elif isinstance(node, ast.Call) and (module := _dynamic_import(node, package)):
            yield Import(module, node.lineno)


def is_under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def heavy_imports(source: str, package: str) -> list[Import]:
    return [item for item in imports_of(source, package) if any(is_under(item.module, p) for p in HEAVY)]


def module_file(module: str, repo_root: Path) -> Path | None:
    """The file of a splatflow module under include/, or None for anything else."""
    path = (repo_root / "include").joinpath(*module.split("."))
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    return None


def package_of(path: Path, repo_root: Path) -> str:
    """The package a file's relative imports resolve against (dags/ and plugins/ are on sys.path)."""
    for folder in ("include", "dags", "plugins"):
        if path.is_relative_to(repo_root / folder):
            # a/b/c.py resolves against a.b; a/b/__init__.py is the package a.b itself
            return ".".join(path.relative_to(repo_root / folder).parts[:-1])
    raise ValueError(f"{path} is outside include/, dags/ and plugins/")


def python_files(repo_root: Path, *folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (repo_root / folder).rglob("*.py"))


def light_closure(entry_files: list[Path], repo_root: Path) -> dict[Path, Path]:
    """Every file the entry files reach through splatflow imports, each mapped to who reached it."""
    reached: dict[Path, Path] = {path: path for path in entry_files}
    queue = list(entry_files)
    while queue:
        current = queue.pop()
        for item in imports_of(current.read_text(encoding="utf-8"), package_of(current, repo_root)):
            if any(is_under(item.module, p) for p in HEAVY) or not is_under(item.module, "splatflow"):
                continue
            target = module_file(item.module, repo_root)
            if target is not None and target not in reached:
                reached[target] = current
                queue.append(target)
    return reached


def light_side_problems(repo_root: Path) -> list[str]:
    """Each heavy import in the DAGs, plugins, ``splatflow.pipeline`` or what they reach."""
    entries = python_files(repo_root, "dags", "plugins", "include/splatflow/pipeline")
    reached = light_closure(entries, repo_root)
    problems = []
    for path in sorted(reached):
        via = "" if reached[path] == path else f" (reached from {reached[path].relative_to(repo_root)})"
        for item in heavy_imports(path.read_text(encoding="utf-8"), package_of(path, repo_root)):
            problems.append(f"{path.relative_to(repo_root)}:{item.line} imports {item.module}{via}")
    return problems


def formats_problems(repo_root: Path) -> list[str]:
    """Each import in ``splatflow.formats`` beyond the standard library, numpy, Pillow and plyfile."""
    allowed_top = FORMATS_THIRD_PARTY | set(sys.stdlib_module_names) | {"splatflow"}
    problems = []
    for path in python_files(repo_root, "include/splatflow/formats"):
        for item in imports_of(path.read_text(encoding="utf-8"), package_of(path, repo_root)):
            internal = module_file(item.module, repo_root) is not None
            outside_formats = item.module != "splatflow" and not is_under(item.module, "splatflow.formats")
            if item.module.split(".")[0] not in allowed_top or (internal and outside_formats):
                problems.append(f"{path.relative_to(repo_root)}:{item.line} imports {item.module}")
    return problems


def contract_problems(repo_root: Path) -> list[str]:
    """Each import in ``splatflow.contract`` beyond the standard library and the contract itself."""
    problems = []
    for path in python_files(repo_root, "include/splatflow/contract"):
        for item in imports_of(path.read_text(encoding="utf-8"), package_of(path, repo_root)):
            inside = is_under(item.module, "splatflow.contract")
            if not inside and item.module.split(".")[0] not in sys.stdlib_module_names:
                problems.append(f"{path.relative_to(repo_root)}:{item.line} imports {item.module}")
    return problems


FLOORS: tuple[tuple[str, ...], ...] = (
    ("splatflow", "splatflow.contract", "splatflow.encryption"),
    ("splatflow.formats", "splatflow.viewer"),
    ("splatflow.render",),
    ("splatflow.stages",),
    (
        "splatflow.pipeline.ids",
        "splatflow.pipeline.layout",
        "splatflow.pipeline.records",
        "splatflow.pipeline.pricing",
        "splatflow.pipeline.settings",
        "splatflow.pipeline.submission",
        "splatflow.pipeline.plan",
        "splatflow.pipeline.manifest",
        "splatflow.pipeline.jobs",
    ),
    ("splatflow.pipeline",),
    ("splatflow.viewer_plugin", "splatflow.local"),
)
"""From the ground up: the shared ground (the package's version, the contract both sides build on,
encryption); file formats and the viewer page; the renderer; the stage containers; the
pipeline's ground floor (ids, the run plan, the S3 records and the plain data they are made of);
the rest of the pipeline; what stands on it (the viewer's Airflow app, the embedded runtime).
``splatflow`` itself is only its ``__init__``; every other name covers its package."""


def floor_of(module: str, floors: Iterable[tuple[str, ...]] = FLOORS) -> int | None:
    """The floor of the most specific ``FLOORS`` name that covers ``module`` (None when none does)."""
    best: tuple[int, int] | None = None
    for level, names in enumerate(floors):
        for name in names:
            covers = module == name or (name != "splatflow" and is_under(module, name))
            if covers and (best is None or len(name) > best[0]):
                best = (len(name), level)
    return None if best is None else best[1]


def module_name(path: Path, repo_root: Path) -> str:
    parts = path.relative_to(repo_root / "include").with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(repo_root: Path) -> dict[str, dict[str, int]]:
    """Each splatflow module -> the splatflow modules it imports, with the line that does it.

    ``from package import module`` depends on the module, not on the package's ``__init__``.
    """
    graph: dict[str, dict[str, int]] = {}
    for path in python_files(repo_root, "include/splatflow"):
        targets: dict[str, int] = {}
        by_line: dict[int, set[str]] = {}
        for item in imports_of(path.read_text(encoding="utf-8"), package_of(path, repo_root)):
            if is_under(item.module, "splatflow") and module_file(item.module, repo_root) is not None:
                by_line.setdefault(item.line, set()).add(item.module)
        for line, modules in by_line.items():
            for module in modules:
                if not any(other != module and is_under(other, module) for other in modules):
                    targets.setdefault(module, line)
        graph[module_name(path, repo_root)] = targets
    return graph


def upward_imports(repo_root: Path, floors: tuple[tuple[str, ...], ...] = FLOORS) -> list[str]:
    """Each import of a module on a higher floor, and each module on no floor."""
    problems = []
    for module, targets in sorted(import_graph(repo_root).items()):
        level = floor_of(module, floors)
        if level is None:
            problems.append(f"{module} stands on no floor of FLOORS")
            continue
        for target, line in sorted(targets.items()):
            target_level = floor_of(target, floors)
            if target_level is not None and target_level > level:
                problems.append(f"{module}:{line} (floor {level}) imports {target} (floor {target_level})")
    return problems


def top_package(module: str, repo_root: Path) -> str:
    """The package directly under ``splatflow`` a module belongs to (``splatflow`` for its own modules)."""
    top = ".".join(module.split(".")[:2])
    return top if (repo_root / "include").joinpath(*top.split("."), "__init__.py").is_file() else "splatflow"


def first_cycle(graph: Mapping[str, Iterable[str]]) -> list[str] | None:
    """One circle of imports in ``graph`` (its nodes, the first repeated at the end), or None."""
    try:
        TopologicalSorter({node: set(targets) - {node} for node, targets in graph.items()}).prepare()
    except CycleError as error:
        return list(reversed(error.args[1]))
    return None


def import_cycles(repo_root: Path) -> list[str]:
    """A circle between modules, and one between the packages directly under ``splatflow``."""
    modules = import_graph(repo_root)
    packages: dict[str, set[str]] = {}
    for module, targets in modules.items():
        packages.setdefault(top_package(module, repo_root), set()).update(
            top_package(target, repo_root) for target in targets
        )
    found = [("modules", first_cycle(modules)), ("packages", first_cycle(packages))]
    return [f"{kind} import each other: {' -> '.join(cycle)}" for kind, cycle in found if cycle]


# --- the checker itself ---------------------------------------------------------------------------

FORBIDDEN_FORMS = {
    "import torch": "torch",
    "import torch.nn as nn": "torch.nn",
    "import os, pycolmap": "pycolmap",
    "from gsplat.rendering import rasterization": "gsplat.rendering",
    "from splatflow import stages": "splatflow.stages",
    "from splatflow.stages.sfm import run": "splatflow.stages.sfm",
    "from ..stages import contract": "splatflow.stages",
    "from ..stages.train import main": "splatflow.stages.train",
    "def f():\n    import torch\n": "torch",
    "mod = __import__('pycolmap')": "pycolmap",
    "import importlib\nm = importlib.import_module('gsplat')": "gsplat",
    "from importlib import import_module\nm = import_module('splatflow.stages.train')": "splatflow.stages.train",
    "import importlib\nm = importlib.import_module('..stages', 'splatflow.pipeline')": "splatflow.stages",
}


@pytest.mark.parametrize(("source", "module"), list(FORBIDDEN_FORMS.items()))
def test_checker_catches_each_import_form(source: str, module: str) -> None:
    found = heavy_imports(source, package="splatflow.pipeline")
    assert module in [item.module for item in found]


@pytest.mark.parametrize(
    "source",
    [
        "import torchvision_like_name",
        "from splatflow.stagecraft import x",
        "from splatflow.pipeline import stages_summary",
        "from . import stages_summary",
        "name = 'torch'\nmodule = __import__(name)",
        "import numpy as np\nfrom PIL import Image",
    ],
)
def test_checker_lets_look_alike_and_light_imports_through(source: str) -> None:
    assert heavy_imports(source, package="splatflow.pipeline") == []


def test_checker_resolves_relative_imports_against_the_package() -> None:
    found = imports_of("from ..formats import ply\nfrom . import jobs", package="splatflow.pipeline")
    assert [item.module for item in found] == [
        "splatflow.formats",
        "splatflow.formats.ply",
        "splatflow.pipeline",
        "splatflow.pipeline.jobs",
    ]


def _write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_checker_follows_splatflow_imports_to_heavy_code_they_reach(tmp_path: Path) -> None:
    _write(tmp_path, "include/splatflow/__init__.py", "")
    _write(tmp_path, "include/splatflow/pipeline/__init__.py", "")
    _write(tmp_path, "include/splatflow/pipeline/jobs.py", "from splatflow.preview import render\n")
    _write(tmp_path, "include/splatflow/preview.py", "import json\n\nimport torch\n")
    _write(tmp_path, "dags/splat.py", "from splatflow.pipeline import jobs\n")

    assert light_side_problems(tmp_path) == [
        "include/splatflow/preview.py:3 imports torch (reached from include/splatflow/pipeline/jobs.py)"
    ]


def test_checker_keeps_formats_to_numpy_pillow_and_plyfile(tmp_path: Path) -> None:
    _write(tmp_path, "include/splatflow/__init__.py", "")
    _write(tmp_path, "include/splatflow/encryption.py", "")
    _write(
        tmp_path,
        "include/splatflow/formats/sog.py",
        "import json\nimport numpy as np\nfrom PIL import Image\nfrom plyfile import PlyData\n"
        "from splatflow import __version__\nfrom . import ply\n"
        "import scipy\nfrom splatflow import encryption\n",
    )

    assert formats_problems(tmp_path) == [
        "include/splatflow/formats/sog.py:7 imports scipy",
        "include/splatflow/formats/sog.py:8 imports splatflow.encryption",
    ]


def _package(root: Path, files: dict[str, str]) -> None:
    _write(root, "include/splatflow/__init__.py", "")
    for relative, text in files.items():
        _write(root, f"include/splatflow/{relative}", text)


def test_checker_keeps_the_contract_to_the_standard_library(tmp_path: Path) -> None:
    _package(
        tmp_path,
        {
            "contract/__init__.py": "",
            "contract/paths.py": "import os\nfrom pathlib import Path\n",
            "contract/failures.py": "import re\nfrom splatflow.contract import paths\nimport numpy\n",
            "contract/outputs.py": "from splatflow.pipeline import ids\n",
        },
    )
    assert contract_problems(tmp_path) == [
        "include/splatflow/contract/failures.py:3 imports numpy",
        "include/splatflow/contract/outputs.py:1 imports splatflow.pipeline",
        "include/splatflow/contract/outputs.py:1 imports splatflow.pipeline.ids",
    ]


def test_checker_finds_a_circle_hidden_behind_type_checking(tmp_path: Path) -> None:
    _package(
        tmp_path,
        {
            "pipeline/__init__.py": "",
            "pipeline/plan.py": "from splatflow.pipeline.delivery import sent\n",
            "pipeline/delivery.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from splatflow.pipeline.plan import Plan\n",
        },
    )
    assert import_cycles(tmp_path) == [
        "modules import each other: splatflow.pipeline.delivery -> splatflow.pipeline.plan -> "
        "splatflow.pipeline.delivery"
    ] or import_cycles(tmp_path) == [
        "modules import each other: splatflow.pipeline.plan -> splatflow.pipeline.delivery -> splatflow.pipeline.plan"
    ]


def test_checker_finds_a_circle_between_packages_that_modules_alone_do_not_close(tmp_path: Path) -> None:
    _package(
        tmp_path,
        {
            "viewer/__init__.py": "",
            "viewer/page.py": "",
            "viewer/service.py": "from splatflow.pipeline import records\n",
            "pipeline/__init__.py": "",
            "pipeline/records.py": "",
            "pipeline/publishing.py": "from splatflow.viewer.page import viewer_page\n",
        },
    )
    cycles = import_cycles(tmp_path)
    assert len(cycles) == 1 and cycles[0].startswith("packages import each other: ")
    assert set(cycles[0].split(": ")[1].split(" -> ")) == {"splatflow.viewer", "splatflow.pipeline"}


def test_checker_finds_an_arrow_pointing_up_and_a_module_on_no_floor(tmp_path: Path) -> None:
    _package(
        tmp_path,
        {
            "low/__init__.py": "",
            "low/ground.py": "from splatflow.high import roof\nfrom splatflow.low import neighbour\n",
            "low/neighbour.py": "",
            "high/__init__.py": "",
            "high/roof.py": "from splatflow.low.ground import x\n",
            "stray.py": "",
        },
    )
    floors = (("splatflow",), ("splatflow.low",), ("splatflow.high",))
    assert upward_imports(tmp_path, floors) == [
        "splatflow.low.ground:1 (floor 1) imports splatflow.high.roof (floor 2)",
        "splatflow.stray stands on no floor of FLOORS",
    ]


# --- the project's code ---------------------------------------------------------------------------


def test_dags_plugins_and_pipeline_never_reach_heavy_code() -> None:
    assert (REPO_ROOT / "include" / "splatflow" / "pipeline" / "__init__.py").is_file()
    assert light_side_problems(REPO_ROOT) == []


def test_formats_use_only_the_standard_library_numpy_pillow_and_plyfile() -> None:
    assert python_files(REPO_ROOT, "include/splatflow/formats")
    assert formats_problems(REPO_ROOT) == []


def test_the_contract_uses_only_the_standard_library() -> None:
    assert python_files(REPO_ROOT, "include/splatflow/contract")
    assert contract_problems(REPO_ROOT) == []


def test_no_module_imports_from_a_floor_above_its_own() -> None:
    assert upward_imports(REPO_ROOT) == []


def test_no_modules_and_no_packages_import_each_other() -> None:
    assert import_cycles(REPO_ROOT) == []
