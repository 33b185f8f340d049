"""SageMaker's container paths, under ``/opt/ml`` or wherever ``SPLATFLOW_ML_ROOT`` moves them."""

from __future__ import annotations

from pathlib import Path

import pytest

from splatflow.contract.paths import CONTAINER, SFM_CHANNEL, MlPaths


def test_paths_follow_sagemaker_layout(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SPLATFLOW_ML_ROOT", str(tmp_path))
    paths = MlPaths.from_environment()
    assert paths.channel(SFM_CHANNEL) == tmp_path / "input" / "data" / "sfm"
    assert paths.hyperparameters_file == tmp_path / "input" / "config" / "hyperparameters.json"
    assert paths.processing_output == tmp_path / "processing" / "output"
    assert paths.failure_file == tmp_path / "output" / "failure"
    monkeypatch.delenv("SPLATFLOW_ML_ROOT")
    assert MlPaths.from_environment().root == Path("/opt/ml")


def test_job_requests_name_the_paths_sagemaker_mounts() -> None:
    assert str(CONTAINER.processing_input) == "/opt/ml/processing/input"
    assert str(CONTAINER.processing_output) == "/opt/ml/processing/output"
    assert str(CONTAINER.checkpoints) == "/opt/ml/checkpoints"
