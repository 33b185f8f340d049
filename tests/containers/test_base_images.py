"""A stand-in's labels read back as written, so a current stand-in is not built again."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from splatflow.local.containers.base_images import STAND_INS, import_root
from splatflow.local.containers.engine import podman_environment
from splatflow.local.containers.images import STAND_IN_LABEL, Builder

PYTHON = "docker.io/library/python:3.11.14-slim-bookworm"


def test_an_imported_stand_in_carries_its_recipe_as_the_whole_label(tmp_path: Path) -> None:
    stand_in = replace(STAND_INS[PYTHON], image=f"localhost/splatflow-label-test:{os.getpid()}")
    (tmp_path / "marker").write_text("a root file system of one file", encoding="utf-8")
    builder = Builder("podman", podman_environment())
    import_root(tmp_path, stand_in, [builder.cli], builder.environment, label=STAND_IN_LABEL)
    try:
        assert builder.label(stand_in.image, STAND_IN_LABEL) == stand_in.recipe
        assert builder.label(stand_in.image, f"{STAND_IN_LABEL}.differences") == stand_in.differences
    finally:
        builder.run("rmi", stand_in.image)
