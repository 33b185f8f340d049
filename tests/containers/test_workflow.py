""".github/workflows/containers.yml builds every stage image into the repository its stage is known by.

The runner and the request builders map an image to its stage by the ECR repository name's last
part, so a Dockerfile the workflow forgets, or pushes under another name, breaks deployments.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
PINNED_ACTION = re.compile(r"^[\w.-]+/[\w.-]+@(v\d+(\.\d+)*|[0-9a-f]{40})$")


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    text = (REPO_ROOT / ".github" / "workflows" / "containers.yml").read_text(encoding="utf-8")
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def _steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = workflow["jobs"]["build-and-push"]["steps"]
    return steps


def _step(workflow: dict[str, Any], action: str) -> dict[str, Any]:
    return next(step for step in _steps(workflow) if step.get("uses", "").startswith(f"{action}@"))


def test_matrix_builds_each_stage_dockerfile_into_its_repository(workflow: dict[str, Any]) -> None:
    matrix = workflow["jobs"]["build-and-push"]["strategy"]["matrix"]["include"]
    built = {entry["dockerfile"]: entry["repository"] for entry in matrix}
    on_disk = {
        str(path.relative_to(REPO_ROOT)): f"splatflow/{path.parent.name}"
        for path in (REPO_ROOT / "containers").glob("*/Dockerfile")
    }
    assert built == on_disk
    assert set(built.values()) == {"splatflow/sfm", "splatflow/3dgs", "splatflow/compressor"}


def test_images_are_built_for_amd64_from_the_root_and_tagged_with_the_commit(workflow: dict[str, Any]) -> None:
    build = _step(workflow, "docker/build-push-action")["with"]
    assert build["context"] == "."
    assert build["platforms"] == "linux/amd64"
    assert build["push"] is True
    assert build["tags"].endswith("/${{ matrix.repository }}:${{ github.sha }}")
    assert build["tags"].startswith("${{ steps.ecr.outputs.registry }}")


def test_aws_access_comes_from_an_oidc_role(workflow: dict[str, Any]) -> None:
    assert workflow["permissions"]["id-token"] == "write"
    credentials = _step(workflow, "aws-actions/configure-aws-credentials")["with"]
    assert "role-to-assume" in credentials
    assert not {"aws-access-key-id", "aws-secret-access-key"} & set(credentials)
    assert _step(workflow, "aws-actions/amazon-ecr-login")["id"] == "ecr"


def test_every_action_is_pinned_by_version(workflow: dict[str, Any]) -> None:
    actions = [step["uses"] for step in _steps(workflow) if "uses" in step]
    assert actions
    assert [action for action in actions if not PINNED_ACTION.match(action)] == []
