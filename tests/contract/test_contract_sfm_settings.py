"""The stage's settings: parsed from container arguments, light enough for the request builders."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from splatflow.contract.hyperparameters import to_container_arguments
from splatflow.contract.sfm_settings import Settings
from splatflow.stages.harness import StageError, read_arguments


def test_container_arguments_round_trip_every_setting() -> None:
    changed = Settings(image_max_size=800, matching="spatial", mapper="incremental", georegister=False)
    assert read_arguments(Settings, to_container_arguments(changed)) == changed


def test_no_arguments_mean_the_defaults() -> None:
    assert read_arguments(Settings, []) == Settings()


def test_a_value_outside_the_choices_fails_the_stage() -> None:
    with pytest.raises(StageError, match="mapper='hierarchical' is not one of global, incremental"):
        read_arguments(Settings, ["--mapper", "hierarchical"])


def test_mapping_needs_at_least_one_attempt() -> None:
    with pytest.raises(StageError, match="mapper_attempts=0 must be at least 1"):
        read_arguments(Settings, ["--mapper-attempts", "0"])


def test_every_setting_is_documented() -> None:
    text = Path(sys.modules[Settings.__module__].__file__ or "").read_text(encoding="utf-8")
    for field in dataclasses.fields(Settings):
        after = text.split(f"    {field.name}: ", 1)[1]
        assert after.splitlines()[1].strip().startswith('"""'), f"{field.name} has no docstring"


def test_importing_the_settings_loads_no_heavy_library() -> None:
    code = "import sys, splatflow.contract.sfm_settings; print(sorted({'pycolmap', 'numpy', 'PIL'} & set(sys.modules)))"
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert completed.stdout.strip() == "[]"
