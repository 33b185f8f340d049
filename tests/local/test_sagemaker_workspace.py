"""A job's workspace: the host folder that stands in for the container's /opt/ml."""

from __future__ import annotations

from pathlib import Path

import pytest

from splatflow.local.sagemaker.workspace import Workspace, WorkspacePathError


def test_a_relative_state_folder_gives_an_absolute_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The runtime's default state folder is ".local", relative to where it was started; the
    # job's process runs elsewhere and must still find its input and write its failure reason.
    monkeypatch.chdir(tmp_path)
    workspace = Workspace.create(Path(".local/sagemaker/workspaces"), "job-1")
    assert workspace.root == tmp_path / ".local" / "sagemaker" / "workspaces" / "job-1" / "ml"
    assert workspace.host_path("/opt/ml/processing/input").is_absolute()
    assert (workspace.root / "input" / "config").is_dir() and (workspace.root / "output").is_dir()


def test_paths_outside_opt_ml_are_refused(tmp_path: Path) -> None:
    workspace = Workspace.create(tmp_path, "job-2")
    for path in ("/etc/passwd", "/opt/ml/../../etc", "opt/ml/input"):
        with pytest.raises(WorkspacePathError):
            workspace.host_path(path)
