"""The viewer inside Airflow: a FastAPI app the API server mounts, behind Airflow's own auth.

It serves a finished run's viewer page and streams its ``.sog`` (and a large model's LOD bundle,
file by file) from the work bucket with the
``aws_default`` connection, so people who can read the pipeline's runs in Airflow see the splat
without a presigned link and the bucket needs no public access or CORS.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.core_api.security import requires_access_dag
from fastapi import Depends, FastAPI, HTTPException, status
from fastapi.responses import HTMLResponse, StreamingResponse

from splatflow.contract.outputs import LOD_FOLDER, LOD_META, SOG
from splatflow.pipeline.ids import PIPELINE_DAG_ID
from splatflow.pipeline.layout import RunLayout
from splatflow.pipeline.records import read_json
from splatflow.pipeline.settings import PipelineSettings
from splatflow.pipeline.submission import run_prefix
from splatflow.viewer.page import notice_page, viewer_page
from splatflow.viewer_plugin.no_splat import RunRecord, explain_no_splat, run_record

log = logging.getLogger(__name__)

STREAM_CHUNK_BYTES = 1 << 20

S3Factory = Callable[[], Any]
RunRecords = Callable[[str, str], RunRecord]


def _published_manifest(s3: Any, dag_id: str, run_id: str) -> dict[str, Any] | None:
    """The run's succeeded manifest (None when it has none); a 404 for a DAG that publishes no splats."""
    if dag_id != PIPELINE_DAG_ID:  # the only DAG that publishes splats, under prefixes its run ids give
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"The DAG '{dag_id}' does not publish splats.")
    prefix = run_prefix(PipelineSettings.from_environment().work_bucket, run_id)
    layout = RunLayout(prefix.bucket, prefix.key.rstrip("/"))
    manifest = read_json(s3, layout.bucket, layout.manifest_key)
    if manifest is None or manifest.get("status") != "succeeded" or "sog" not in manifest.get("outputs", {}):
        return None
    return manifest


def _finished_manifest(s3: Any, dag_id: str, run_id: str) -> dict[str, Any]:
    """The run's succeeded manifest, or a 404 in the user's words."""
    manifest = _published_manifest(s3, dag_id, run_id)
    if manifest is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"The run '{run_id}' has not published a splat.")
    return manifest


def create_viewer_app(s3_factory: S3Factory, run_records: RunRecords = run_record) -> FastAPI:
    """The app; ``s3_factory`` gives an S3 client (the plugin builds it from ``aws_default``), ``run_records``
    what Airflow's database says of a run (for the page that says why a run has no splat)."""
    can_read_runs = Depends(requires_access_dag("GET", DagAccessEntity.RUN))
    app = FastAPI(title="Splat viewer", dependencies=[can_read_runs])

    @app.get("/dags/{dag_id}/runs/{run_id}/", response_class=HTMLResponse)
    def viewer(dag_id: str, run_id: str) -> HTMLResponse:
        """The run's viewer page, which loads the ``.sog`` served beside it; for a run with no splat, a page
        that says why and what to do (the Splat tab shows it inside Airflow's page)."""
        manifest = _published_manifest(s3_factory(), dag_id, run_id)
        if manifest is None:
            notice = explain_no_splat(run_records(dag_id, run_id), run_id)
            page = notice_page(notice.title, notice.reason, notice.advice, run_id)
            return HTMLResponse(page, status_code=status.HTTP_404_NOT_FOUND)
        lod_url = LOD_META if "lod" in manifest.get("outputs", {}) else ""
        return HTMLResponse(viewer_page(manifest, sog_url=SOG, lod_url=lod_url))

    @app.get(f"/dags/{{dag_id}}/runs/{{run_id}}/{SOG}")
    def sog(dag_id: str, run_id: str) -> StreamingResponse:
        """The run's ``.sog``, streamed with its length so the page can show progress."""
        s3 = s3_factory()
        manifest = _finished_manifest(s3, dag_id, run_id)
        bucket, _, key = manifest["outputs"]["sog"].removeprefix("s3://").partition("/")
        # A .sog is a ZIP of WebP images: "application/zip" also keeps the API server's gzip
        # middleware off it, which would cost CPU for nothing and drop the length the page needs.
        return _streamed(s3, bucket, key, "application/zip")

    @app.get(f"/dags/{{dag_id}}/runs/{{run_id}}/{LOD_FOLDER}/{{name:path}}")
    def lod_file(dag_id: str, run_id: str, name: str) -> StreamingResponse:
        """A file of the run's streamed LOD bundle (its index, a chunk's ``meta.json`` or texture),
        which the page's engine fetches by the relative names ``lod-meta.json`` gives."""
        s3 = s3_factory()
        manifest = _finished_manifest(s3, dag_id, run_id)
        index = manifest["outputs"].get("lod")
        if index is None or not _BUNDLE_FILE.fullmatch(name) or ".." in name:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"The run '{run_id}' has no streamed file '{name}'.")
        bucket, _, key = index.removeprefix("s3://").partition("/")
        folder = key.rsplit("/", 1)[0]
        try:
            return _streamed(s3, bucket, f"{folder}/{name}", _BUNDLE_TYPES[name.rsplit(".", 1)[1]])
        except s3.exceptions.NoSuchKey:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"The run '{run_id}' has no streamed file '{name}'."
            ) from None

    return app


_BUNDLE_FILE = re.compile(r"[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*\.(json|webp)")
"""What a bundle holds: ``lod-meta.json``, ``<level>_<n>/meta.json``, ``env/<texture>.webp``."""
_BUNDLE_TYPES = {"json": "application/json", "webp": "image/webp"}


def _streamed(s3: Any, bucket: str, key: str, media_type: str) -> StreamingResponse:
    """An S3 object streamed with its length (the page shows progress from it)."""
    reply = s3.get_object(Bucket=bucket, Key=key)
    body = reply["Body"]

    def chunks() -> Iterator[bytes]:
        try:
            yield from body.iter_chunks(STREAM_CHUNK_BYTES)
        finally:
            body.close()

    headers = {"Content-Length": str(reply["ContentLength"]), "Cache-Control": "private, max-age=3600"}
    return StreamingResponse(chunks(), media_type=media_type, headers=headers)
