"""``make demo``: the real ``splat_pipeline`` DAG on the bundled sample (or your photos), through the embedded runtime.

Everything a production run does happens here too (the same DAG, operators, container entry
points and email), only against local endpoints and with settings sized for a laptop CPU.
The outputs are copied to ``<state>/demo/`` and summarised at the end.
"""

from __future__ import annotations

import io
import json
import logging
import os
import time
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from splatflow.contract.sfm_settings import PHOTO_SUFFIXES
from splatflow.local.airflow_env import REPO_ROOT, airflow_environment, prepare_airflow
from splatflow.local.aws_clients import aws_client
from splatflow.local.runtime import EmbeddedRuntime, RuntimeSettings
from splatflow.pipeline.layout import MANIFEST_NAME
from splatflow.pipeline.s3_locations import S3Location
from splatflow.pipeline.submission import run_prefix

log = logging.getLogger(__name__)

SAMPLE = REPO_ROOT / "data" / "sample" / "brighton_beach"
SAMPLE_KEY = "samples/brighton_beach.zip"
"""Where the sample's ZIP goes in the uploads bucket, for the demo and for ``make up``."""
DEMO_EMAIL = "you@example.com"
DEMO_SETTINGS = {
    "SPLATFLOW_SFM_ARGUMENTS": json.dumps({"image_max_size": "640", "extraction_max_size": "640"}),
    "SPLATFLOW_TRAIN_HYPERPARAMETERS": json.dumps({"max_width": "320"}),
}
"""The preview preset at 320 px: minutes on a laptop CPU (a GPU job uses the full presets)."""


def photos_in(folder: Path) -> list[Path]:
    return sorted(path for path in folder.iterdir() if path.is_file() and path.suffix.lower() in PHOTO_SUFFIXES)


def upload_sample(runtime: EmbeddedRuntime) -> str:
    """The bundled sample into the runtime's uploads bucket, zipped as a user would; its S3 URL."""
    settings = runtime.settings
    aws_client("s3", runtime.aws_url, settings.region).put_object(
        Bucket=settings.upload_bucket, Key=SAMPLE_KEY, Body=sample_zip()
    )
    return f"s3://{settings.upload_bucket}/{SAMPLE_KEY}"


def sample_zip(folder: Path = SAMPLE) -> bytes:
    """The photos of a folder (the bundled ones by default) as the ZIP a user would upload."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for photo in photos_in(folder):
            archive.write(photo, f"{folder.name}/{photo.name}")
    return buffer.getvalue()


@dataclass(frozen=True)
class Upload:
    """A ZIP of photos and where in the uploads bucket it goes."""

    key: str
    body: bytes

    @classmethod
    def of(cls, photos: Path | None) -> Upload:
        """The bundled sample, or the user's own photos: a ZIP, or a folder of photos to zip.

        Anything else is refused here, naming it, before a runtime starts; what is inside the ZIP
        is the pipeline's to check, as for any submission.
        """
        if photos is None:
            return cls(SAMPLE_KEY, sample_zip())
        path = photos.expanduser().resolve()
        if path.is_dir():
            if not photos_in(path):
                raise ValueError(f"{path} holds no photos ({', '.join(sorted(PHOTO_SUFFIXES))})")
            return cls(f"demo/{path.name}.zip", sample_zip(path))
        if path.is_file() and zipfile.is_zipfile(path):
            return cls(f"demo/{path.stem}.zip", path.read_bytes())
        raise ValueError(f"{path} is neither a ZIP of photos nor a folder of photos")

    def conf(self, bucket: str) -> dict[str, str]:
        """The run's parameters; ``s3_url`` has the key percent-encoded, so a name with spaces,
        ``#`` or ``?`` passes the pipeline's input check and names this very object."""
        return {"s3_url": S3Location(bucket, self.key).url, "email": DEMO_EMAIL, "preset": "preview"}


def _download_outputs(runtime: EmbeddedRuntime, manifest: dict[str, Any], target: Path) -> dict[str, Path]:
    s3 = aws_client("s3", runtime.aws_url, runtime.settings.region)
    target.mkdir(parents=True, exist_ok=True)
    saved = {}
    for name in ("sog", "ply", "preview"):
        uri = manifest["outputs"].get(name)
        if uri:
            bucket, _, key = uri.removeprefix("s3://").partition("/")
            path = target / Path(key).name
            s3.download_file(bucket, key, str(path))
            saved[name] = path
    manifest_path = target / "manifest.json"
    manifest_path.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    saved["manifest"] = manifest_path
    return saved


@dataclass(frozen=True)
class SampleRun:
    """What one run of the pipeline on the sample produced."""

    state: str
    run_id: str
    wall_seconds: float
    manifest: dict[str, Any] | None
    saved: dict[str, Path]
    mails: list[Path]
    stored_bytes: dict[str, int] = field(default_factory=dict)
    """The size of each object the run left under ``runs/<run key>/``, by key below it."""


def run_sample(
    settings: RuntimeSettings,
    target: Path,
    extra_settings: dict[str, str] | None = None,
    upload: Upload | None = None,
) -> SampleRun:
    """Run ``splat_pipeline`` once on the sample (or the ``upload`` given) through a fresh runtime;
    outputs go to ``target``."""
    upload = upload or Upload.of(None)
    runtime = EmbeddedRuntime(replace(settings, aws_port=0, sagemaker_port=0, smtp_port=0))
    runtime.start()
    try:
        os.environ.update(runtime.environment())
        os.environ.update(airflow_environment(settings.state_dir))
        os.environ.update(DEMO_SETTINGS)
        os.environ.update(extra_settings or {})
        prepare_airflow(dict(os.environ))
        aws_client("s3", runtime.aws_url, settings.region).put_object(
            Bucket=settings.upload_bucket, Key=upload.key, Body=upload.body
        )
        from airflow.models.dagbag import DagBag

        dag = DagBag(dag_folder=str(REPO_ROOT / "dags" / "splat_pipeline.py")).get_dag("splat_pipeline")
        conf = upload.conf(settings.upload_bucket)
        started = time.monotonic()
        run = dag.test(run_conf=conf)
        wall = time.monotonic() - started
        manifest = _manifest(runtime, run.run_id)
        saved = {}
        if manifest and manifest.get("status") == "succeeded":
            saved = _download_outputs(runtime, manifest, target)
        stored = _stored_bytes(runtime, run.run_id)
        return SampleRun(str(run.state), run.run_id, wall, manifest, saved, runtime.smtp.messages(), stored)
    finally:
        runtime.stop()


def _stored_bytes(runtime: EmbeddedRuntime, run_id: str) -> dict[str, int]:
    """The size of every object the run keeps under its prefix, by key below ``runs/<run key>/``."""
    prefix = run_prefix(runtime.settings.work_bucket, run_id)
    s3 = aws_client("s3", runtime.aws_url, runtime.settings.region)
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=prefix.bucket, Prefix=prefix.key)
    return {
        item["Key"].removeprefix(prefix.key): int(item["Size"]) for page in pages for item in page.get("Contents", [])
    }


def _manifest(runtime: EmbeddedRuntime, run_id: str) -> dict[str, Any] | None:
    prefix = run_prefix(runtime.settings.work_bucket, run_id)
    s3 = aws_client("s3", runtime.aws_url, runtime.settings.region)
    try:
        body = s3.get_object(Bucket=prefix.bucket, Key=prefix.key.rstrip("/") + "/" + MANIFEST_NAME)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    manifest: dict[str, Any] = json.loads(body)
    return manifest


def summary(sample: SampleRun) -> str:
    """What the person who ran the demo wants to know: where things are and how good they are."""
    lines = [f"splat_pipeline run {sample.run_id}: {sample.state} in {sample.wall_seconds:.0f} s"]
    manifest = sample.manifest
    if manifest and manifest.get("status") == "succeeded":
        quality = manifest["quality"]
        psnr = quality["psnr_db"]
        lines += [f"  {name:<9} {path}" for name, path in sample.saved.items()]
        lines += [
            f"  photos    {quality['photos_registered']} of {quality['photos_received']} registered",
            f"  PSNR      {psnr:.2f} dB on held-out photos" if psnr is not None else "  PSNR      -",
            f"  Gaussians {quality['gaussians']}",
            f"  sizes     .ply {quality['ply_bytes']} B -> .sog {quality['sog_bytes']} B "
            f"({quality['compression_ratio']}x smaller)",
            f"  compute   {manifest['compute_seconds']:.0f} s in SageMaker-compatible jobs",
        ]
    elif manifest:
        lines.append(f"  failed at {manifest['failure']['stage']}: {manifest['failure']['reason']}")
    lines.append(f"  email     {sample.mails[-1]}" if sample.mails else "  email     (none sent)")
    return "\n".join(lines)


def run_demo(settings: RuntimeSettings, upload: Upload) -> int:
    """Run the pipeline once on the sample (or the user's photos) and print the summary; 0 when it succeeded."""
    sample = run_sample(settings, settings.state_dir / "demo", upload=upload)
    print(summary(sample))  # noqa: T201 - the demo's result is for the person who ran it
    return 0 if sample.state == "success" else 1
