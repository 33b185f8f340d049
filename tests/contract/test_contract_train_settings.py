"""Training settings: presets fill what a job leaves unset, and the module stays light."""

from __future__ import annotations

import subprocess
import sys

from splatflow.contract.hyperparameters import from_hyperparameters, to_hyperparameters
from splatflow.contract.train_settings import HIGH, PRESETS, STANDARD, Settings


def test_a_named_preset_fills_unset_fields_and_keeps_overrides():
    settings = from_hyperparameters(Settings, {"preset": "high", "max_steps": "1234"}).with_preset_defaults()
    assert settings.max_steps == 1234
    assert settings.strategy == HIGH.strategy and settings.max_width == HIGH.max_width


def test_no_preset_means_standard():
    assert Settings().with_preset_defaults() == STANDARD


def test_every_preset_round_trips_through_sagemaker_hyperparameters():
    for preset in PRESETS.values():
        assert from_hyperparameters(Settings, to_hyperparameters(preset)) == preset


def test_presets_leave_nothing_unset():
    for preset in PRESETS.values():
        assert preset.with_preset_defaults() == preset


def test_settings_module_imports_no_heavy_library():
    code = (
        "import sys, splatflow.contract.train_settings; print(sorted({'torch','gsplat','pycolmap'} & set(sys.modules)))"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"
