"""``splat_pipeline`` end to end on the embedded runtime with the real stages (test-sized settings).

The same submission runs twice: with every job as a process of this virtualenv, and with every
job in its own stage image under a real container engine, as SageMaker runs them (root-owned
mounts, read-only inputs, no network, the images' own entry points). Both must succeed and make
the same outputs: a stage that only works in the development virtualenv fails here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import pytest
from mail_structure import inline_pictures
from pipeline_support import (
    SAMPLE_PHOTOS,
    UPLOADS,
    WORK,
    html_of,
    mail_to,
    pipeline_environment,
    pipeline_runtime,
    run_pipeline,
    s3_of,
    upload,
    zip_photos,
)

from splatflow.contract.outputs import STILLS
from splatflow.local.containers.engine import Engine
from splatflow.local.containers.images import StageImage
from splatflow.local.runtime import EmbeddedRuntime
from splatflow.pipeline.signed_index import SIGNED_FOLDER
from splatflow.pipeline.submission import run_prefix

__all__ = ["pipeline_runtime"]

pytestmark = pytest.mark.slow

ADDRESS = "survey.team@example.com"


@pytest.fixture(scope="module")
def finished_run(pipeline_runtime: EmbeddedRuntime) -> tuple[Any, dict[str, Any], list[EmailMessage]]:
    upload(pipeline_runtime, "site 7/flight.zip", zip_photos(sorted(SAMPLE_PHOTOS.glob("*.JPG"))))
    url = f"https://{UPLOADS}.s3.us-east-1.amazonaws.com/site%207/flight.zip"
    run = run_pipeline({"s3_url": url, "email": ADDRESS, "preset": "preview"})
    prefix = run_prefix(WORK, run.run_id)
    body = s3_of(pipeline_runtime).get_object(Bucket=WORK, Key=prefix.key.rstrip("/") + "/manifest.json")["Body"]
    return run, json.loads(body.read()), mail_to(pipeline_runtime, ADDRESS)


def test_run_succeeds_with_one_result_email(finished_run: tuple[Any, dict[str, Any], list[EmailMessage]]) -> None:
    run, manifest, messages = finished_run
    assert run.state == "success"
    assert manifest["status"] == "succeeded"
    assert len(messages) == 1
    assert messages[0]["Subject"] == "Your 3D splat of flight.zip is ready"


def test_manifest_records_every_stage_and_the_figures(
    finished_run: tuple[Any, dict[str, Any], list[EmailMessage]],
) -> None:
    _, manifest, _ = finished_run
    assert set(manifest["stages"]) == {"sfm", "train", "compress"}
    assert all(stage["status"] == "Completed" for stage in manifest["stages"].values())
    quality = manifest["quality"]
    assert quality["photos_received"] == quality["photos_registered"] == 18
    assert quality["psnr_db"] > 5 and quality["gaussians"] > 0, "training figures reach the manifest"
    assert quality["sog_bytes"] < quality["ply_bytes"]
    assert manifest["total_cost_usd"] > 0
    assert {"spz", "glb"} <= set(manifest["outputs"]), "every run delivers the .spz and the .glb"
    assert manifest["output_bytes"]["spz"] == quality["spz_bytes"] > 0
    assert ("tileset" in manifest["outputs"]) != (manifest["no_tileset"] is not None), "a tileset, or why not"
    assert "tileset" in manifest["outputs"], "the sample's photos carry GPS: the run is on the map"


def _run_objects(runtime: EmbeddedRuntime, run_id: str) -> dict[str, dict[str, Any]]:
    """Each object under the run's prefix (its listing entry), by key below the prefix."""
    prefix = run_prefix(WORK, run_id).key
    listing = s3_of(runtime).list_objects_v2(Bucket=WORK, Prefix=prefix)["Contents"]
    return {item["Key"].removeprefix(prefix): item for item in listing}


def test_manifest_is_the_last_object_written(
    pipeline_runtime: EmbeddedRuntime, finished_run: tuple[Any, dict[str, Any], list[EmailMessage]]
) -> None:
    run, manifest, _ = finished_run
    prefix = run_prefix(WORK, run.run_id).key
    written = {key: item["LastModified"] for key, item in _run_objects(pipeline_runtime, run.run_id).items()}
    # Delivery writes after publishing: its record, and the signed index copies its email links to.
    delivered = {key for key in written if key == "delivered.json" or f"/{SIGNED_FOLDER}/" in f"/{key}"}
    outputs = {key: moment for key, moment in written.items() if key != "manifest.json" and key not in delivered}
    assert {"compress/scene.sog", "compress/report.json"} <= set(outputs)
    assert written["manifest.json"] >= max(outputs.values())
    assert all(written[key] >= written["manifest.json"] for key in delivered), "delivery writes after publishing"
    for uri in manifest["outputs"].values():
        assert uri.startswith(f"s3://{WORK}/{prefix}"), "outputs stay inside the run's own prefix"


def test_each_artefact_is_stored_once_and_the_ply_linked_where_training_wrote_it(
    pipeline_runtime: EmbeddedRuntime, finished_run: tuple[Any, dict[str, Any], list[EmailMessage]]
) -> None:
    run, manifest, _ = finished_run
    prefix = run_prefix(WORK, run.run_id).key
    sizes = {key: item["Size"] for key, item in _run_objects(pipeline_runtime, run.run_id).items()}
    keys = set(sizes)
    model = f"train/{manifest['stages']['train']['job_name']}/output/model/"
    assert manifest["outputs"]["model"] == f"s3://{WORK}/{prefix}{model}", "uploaded uncompressed"
    assert manifest["outputs"]["ply"] == f"s3://{WORK}/{prefix}{model}splat.ply"
    assert [key for key in keys if key.endswith((".ply", ".tar.gz"))] == [f"{model}splat.ply"], "one .ply, no archive"
    photos = sorted(key.removeprefix(f"{model}holdout/") for key in keys if key.startswith(f"{model}holdout/"))
    assert photos and all(name.endswith(".JPG") for name in photos), "the held-out photos kept as the JPEGs they were"
    for name in photos:
        assert sizes[f"{model}holdout/{name}"] == sizes[f"sfm/images/{name}"], f"{name} is the SfM output's file"


def test_email_carries_figures_links_and_the_inline_preview(
    pipeline_runtime: EmbeddedRuntime, finished_run: tuple[Any, dict[str, Any], list[EmailMessage]]
) -> None:
    _, manifest, messages = finished_run
    html = html_of(messages[0])
    assert "View in 3D" in html and "scene.sog" in html and "splat.ply" in html
    assert "X-Amz-Expires=" in html, "download links are presigned"
    assert "/compress/viewer.html?" in html and "#sog=" in html, "View in 3D opens the run's own viewer page"
    assert f"{manifest['quality']['photos_registered']}" in html
    text = messages[0].get_body(("plain",))
    assert text is not None and "X-Amz-Expires=" in text.get_content() and "#sog=" in text.get_content()

    shown = inline_pictures(messages[0])
    assert list(shown) == ["preview.png", "orbit_1.png", "orbit_2.png", "orbit_3.png"]
    assert manifest["outputs"]["preview"].endswith("/compress/preview.png")
    assert manifest["outputs"]["comparison"].endswith("/compress/comparison.png"), "the held-out comparison is kept"
    assert "comparison.png" not in shown, "but not mailed"
    s3 = s3_of(pipeline_runtime)
    for name, file_name in STILLS.items():
        bucket, _, key = manifest["outputs"][name].removeprefix("s3://").partition("/")
        published = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert shown[file_name].get_content() == published, f"the email shows the run's own {file_name}"


# --- the same run with every job in its stage image -------------------------------------------------

IMAGES_ADDRESS = "images@example.com"


@dataclass(frozen=True)
class RunOutputs:
    state: str
    manifest: dict[str, Any]
    sfm_report: dict[str, Any]
    objects: set[str]
    """Every object the run wrote under its prefix, relative to it, job names as ``<job>``."""
    messages: list[EmailMessage]
    job_logs: str


def _outputs(runtime: EmbeddedRuntime, run: Any, address: str) -> RunOutputs:
    s3 = s3_of(runtime)
    prefix = run_prefix(WORK, run.run_id).key

    def read(key: str) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(s3.get_object(Bucket=WORK, Key=prefix + key)["Body"].read())
        return document

    keys = [item["Key"].removeprefix(prefix) for item in s3.list_objects_v2(Bucket=WORK, Prefix=prefix)["Contents"]]
    workspaces = runtime.settings.state_dir / "sagemaker" / "workspaces"
    return RunOutputs(
        state=str(run.state),
        manifest=read("manifest.json"),
        sfm_report=read("sfm/report.json"),
        objects={re.sub(r"/splat-[^/]+-train/", "/<job>/", key) for key in keys},
        messages=mail_to(runtime, address),
        job_logs="\n".join(log.read_text(encoding="utf-8") for log in sorted(workspaces.glob("*/job.log"))),
    )


@pytest.fixture(scope="module")
def in_images(
    finished_run: tuple[Any, dict[str, Any], list[EmailMessage]],
    engine: Engine,
    built_stage_images: list[StageImage],
    tmp_path_factory: pytest.TempPathFactory,
) -> RunOutputs:
    with pipeline_environment(tmp_path_factory.mktemp("in-images"), engine=engine) as runtime:
        url = upload(runtime, "site-9/flight.zip", zip_photos(sorted(SAMPLE_PHOTOS.glob("*.JPG"))))
        run = run_pipeline({"s3_url": url, "email": IMAGES_ADDRESS, "preset": "preview"})
        return _outputs(runtime, run, IMAGES_ADDRESS)


@pytest.mark.timeout(1800)
def test_in_images_the_run_succeeds_with_one_result_email(in_images: RunOutputs) -> None:
    assert in_images.state == "success", in_images.job_logs[-3000:]
    assert in_images.manifest["status"] == "succeeded"
    assert [message["Subject"] for message in in_images.messages] == ["Your 3D splat of flight.zip is ready"]


def test_in_images_every_job_ran_in_its_image(in_images: RunOutputs) -> None:
    # Each stage logs its ML root as it starts: /opt/ml in a container, a workspace folder in a process.
    assert in_images.job_logs.count("starting (ml root /opt/ml)") == 3, in_images.job_logs[-3000:]


def test_images_make_the_same_outputs_as_processes(
    pipeline_runtime: EmbeddedRuntime,
    finished_run: tuple[Any, dict[str, Any], list[EmailMessage]],
    in_images: RunOutputs,
) -> None:
    in_processes = _outputs(pipeline_runtime, finished_run[0], ADDRESS)
    assert in_images.objects == in_processes.objects
    assert set(in_images.manifest["outputs"]) == set(in_processes.manifest["outputs"])
    assert in_images.sfm_report["photos"] == in_processes.sfm_report["photos"]
    assert in_images.sfm_report["points"] == pytest.approx(in_processes.sfm_report["points"], rel=0.02)
    images_quality, processes_quality = in_images.manifest["quality"], in_processes.manifest["quality"]
    assert images_quality["photos_registered"] == processes_quality["photos_registered"] == 18
    assert images_quality["gaussians"] == pytest.approx(processes_quality["gaussians"], rel=0.05)
    assert images_quality["psnr_db"] == pytest.approx(processes_quality["psnr_db"], abs=1.0)
