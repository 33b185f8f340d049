"""The runner's checkpoint sync on its own: finished files go up, files being written do not, and a
file the job deleted goes from S3 too (SageMaker's checkpoint sync, deletions included)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from splatflow.local.sagemaker import checkpoint_sync
from splatflow.local.sagemaker.checkpoint_sync import CheckpointSyncer, restore_checkpoints

URI = "s3://work/runs/r/checkpoints"


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="work")
        yield client


def _keys(s3: Any) -> list[str]:
    return sorted(item["Key"] for item in s3.list_objects_v2(Bucket="work").get("Contents", []))


def test_finished_checkpoints_go_up_and_pruned_ones_go_from_s3(s3: Any, tmp_path: Path) -> None:
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    syncer = CheckpointSyncer(s3, URI, folder, every_seconds=0, extra={})
    (folder / "ckpt-100.pt").write_bytes(b"a")
    (folder / "ckpt-200.pt.tmp").write_bytes(b"being written")
    (folder / ".partial").write_bytes(b"hidden")

    syncer.sync()
    assert _keys(s3) == ["runs/r/checkpoints/ckpt-100.pt"]

    (folder / "ckpt-200.pt.tmp").rename(folder / "ckpt-200.pt")
    (folder / "ckpt-100.pt").unlink()
    syncer.sync()
    assert _keys(s3) == ["runs/r/checkpoints/ckpt-200.pt"]


def test_a_restored_checkpoint_the_job_prunes_is_deleted_from_s3(s3: Any, tmp_path: Path) -> None:
    s3.put_object(Bucket="work", Key="runs/r/checkpoints/ckpt-100.pt", Body=b"a")
    folder = tmp_path / "checkpoints"
    restore_checkpoints(s3, URI, folder)
    syncer = CheckpointSyncer(s3, URI, folder, every_seconds=0, extra={})

    (folder / "ckpt-100.pt").unlink()
    syncer.sync()

    assert _keys(s3) == []


def test_a_checkpoint_pruned_while_it_is_uploaded_does_not_fail_the_sync(
    s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job deletes an old checkpoint while the sync is about to upload it: the job goes on."""
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    syncer = CheckpointSyncer(s3, URI, folder, every_seconds=0, extra={})
    (folder / "ckpt-100.pt").write_bytes(b"a")
    syncer.sync()
    (folder / "ckpt-100.pt").write_bytes(b"changed")
    (folder / "ckpt-200.pt").write_bytes(b"b")
    upload = checkpoint_sync.s3io.upload_file

    def pruned_first(client: Any, path: Path, uri: str, extra: dict[str, str]) -> None:
        if path.name == "ckpt-100.pt":
            path.unlink()
        upload(client, path, uri, extra)

    monkeypatch.setattr(checkpoint_sync.s3io, "upload_file", pruned_first)
    syncer.sync()
    assert _keys(s3) == ["runs/r/checkpoints/ckpt-100.pt", "runs/r/checkpoints/ckpt-200.pt"]
    syncer.sync()
    assert _keys(s3) == ["runs/r/checkpoints/ckpt-200.pt"]
