"""The 3dgs image installs what the training stage imports: the ``train`` extra covers it.

The image installs ``.[train]`` and nothing else, so a module the stage imports whose
distribution is outside that extra's requirements (direct or transitive) stops the container at
its first line, as pycolmap once did. Checked here on the imports the stage really makes.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

REPO_ROOT = Path(__file__).resolve().parents[3]
OPTIONAL = {"dill"}
"""Imported only when present: ``torch.utils._import_utils.import_dill`` checks for it first."""


def imported_top_level_modules() -> set[str]:
    """Top-level modules loaded by importing the stage, in a fresh interpreter."""
    code = (
        "import sys, importlib\n"
        "before = set(sys.modules)\n"
        "importlib.import_module('splatflow.stages.train.stage')\n"
        "print('\\n'.join(sorted({name.split('.')[0] for name in set(sys.modules) - before})))\n"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(output.split())


def requirement_closure(names: list[str]) -> set[str]:
    """Every distribution ``names`` need, transitively, for this interpreter (extras ignored)."""
    seen: set[str] = set()
    pending = [metadata.distribution(name).metadata["Name"].lower() for name in names]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        for text in metadata.requires(name) or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                try:
                    pending.append(metadata.distribution(requirement.name).metadata["Name"].lower())
                except metadata.PackageNotFoundError:
                    continue  # not installed here, so not what the stage imported either
    return seen


def test_the_train_extra_installs_every_module_the_stage_imports():
    extras = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    closure = requirement_closure([Requirement(text).name for text in extras["train"]])
    providers = metadata.packages_distributions()
    standard = set(sys.stdlib_module_names) | {"splatflow", "__main__"} | OPTIONAL

    missing = {
        module: providers[module]
        for module in imported_top_level_modules() - standard
        if module in providers and not {name.lower() for name in providers[module]} & closure
    }

    assert missing == {}
