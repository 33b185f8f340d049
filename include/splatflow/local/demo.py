"""``make demo``: the real ``splat_pipeline`` DAG on the bundled sample, through the embedded runtime.

Everything a production run does happens here too (the same DAG, operators, container entry
points and email), only against local endpoints and with settings sized for a laptop CPU.
The outputs are copied to ``<state>/demo/`` and summarised at the end.
"""

from __future__ import annotations

import io
import json
import logging
import os
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from splatflow.local.airflow_env import REPO_ROOT, airflow_environment, prepare_airflow
from splatflow.local.aws_clients import aws_client
from splatflow.local.runtime import EmbeddedRuntime, RuntimeSettings

log = logging.getLogger(__name__)

SAMPLE = REPO_ROOT / "data" / "sample" / "brighton_beach"
DEMO_EMAIL = "you@example.com"
DEMO_SETTINGS = {
    "SPLATFLOW_SFM_ARGUMENTS": json.dumps({"image_max_size": "640", "extraction_max_size": "640"}),
    "SPLATFLOW_TRAIN_HYPERPARAMETERS": json.dumps({"max_width": "320"}),
}
"""The preview preset at 320 px: minutes on a laptop CPU (a GPU job uses the full presets)."""


def sample_zip(folder: Path = SAMPLE) -> bytes:
    """The bundled photos as the ZIP a user would upload."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for photo in sorted(folder.glob("*.JPG")):
            archive.write(photo, f"brighton_beach/{photo.name}")
    return buffer.getvalue()


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


def run_demo(settings: RuntimeSettings) -> int:
    """Run the pipeline once on the sample; 0 when it succeeded."""
    runtime = EmbeddedRuntime(replace(settings, aws_port=0, sagemaker_port=0, smtp_port=0))
    runtime.start()
    try:
        os.environ.update(runtime.environment())
        os.environ.update(airflow_environment(settings.state_dir))
        os.environ.update(DEMO_SETTINGS)
        prepare_airflow(dict(os.environ))
        key = "demo/brighton_beach.zip"
        aws_client("s3", runtime.aws_url, settings.region).put_object(
            Bucket=settings.upload_bucket, Key=key, Body=sample_zip()
        )
        from airflow.models.dagbag import DagBag

        dag = DagBag(dag_folder=str(REPO_ROOT / "dags" / "splat_pipeline.py")).get_dag("splat_pipeline")
        conf = {"s3_url": f"s3://{settings.upload_bucket}/{key}", "email": DEMO_EMAIL, "preset": "preview"}
        run = dag.test(run_conf=conf)
        return _summarise(runtime, run.state, run.run_id, settings.state_dir / "demo")
    finally:
        runtime.stop()


def _summarise(runtime: EmbeddedRuntime, state: str, run_id: str, target: Path) -> int:
    from splatflow.pipeline.layout import MANIFEST_NAME
    from splatflow.pipeline.submission import run_prefix

    prefix = run_prefix(runtime.settings.work_bucket, run_id)
    s3 = aws_client("s3", runtime.aws_url, runtime.settings.region)
    try:
        body = s3.get_object(Bucket=prefix.bucket, Key=prefix.key.rstrip("/") + "/" + MANIFEST_NAME)["Body"].read()
        manifest: dict[str, Any] | None = json.loads(body)
    except s3.exceptions.NoSuchKey:
        manifest = None
    mails = runtime.smtp.messages()
    lines = [f"splat_pipeline run {run_id}: {state}"]
    if manifest and manifest.get("status") == "succeeded":
        saved = _download_outputs(runtime, manifest, target)
        quality = manifest["quality"]
        lines += [f"  {name:<9} {path}" for name, path in saved.items()]
        lines += [
            f"  photos    {quality['photos_registered']} of {quality['photos_received']} registered",
            f"  PSNR      {quality['psnr_db']:.2f} dB held-out" if quality["psnr_db"] is not None else "  PSNR      -",
            f"  Gaussians {quality['gaussians']}",
            f"  sizes     .ply {quality['ply_bytes']} B -> .sog {quality['sog_bytes']} B "
            f"({quality['compression_ratio']}x)",
            f"  time      {manifest['run_seconds']} s in all, {manifest['compute_seconds']} s in jobs",
        ]
    elif manifest:
        lines.append(f"  failed at {manifest['failure']['stage']}: {manifest['failure']['reason']}")
    lines += [f"  email     {mails[-1]}" if mails else "  email     (none sent)"]
    print("\n".join(lines))  # noqa: T201 - the demo's result is for the person who ran it
    return 0 if state == "success" else 1
