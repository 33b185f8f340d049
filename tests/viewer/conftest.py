"""A headless Chromium (Debian's ``chromium``, driven by Playwright) and a small real ``.sog``."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
from botocore.config import Config
from local_http import served
from moto.server import ThreadedMotoServer
from synthetic_scene import synthetic_scene

from splatflow.formats.sog import write_sog
from splatflow.local.net import free_port
from splatflow.stages.compress.encoder import encode_splats

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
"""Software WebGL (SwiftShader) is what Chromium falls back to with the GPU disabled."""


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Per module: Playwright's sync API holds an event loop open while it runs, and code that
    calls ``asyncio.run`` (``dag.test()`` in other test modules) must not find one."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.is_file():
        raise RuntimeError("the browser tests need Debian's chromium: apt-get install -y chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def scene_sog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A compressed synthetic drone scene (ground and buildings), as the compression stage writes it.

    Its splats are made four times larger than the generator's so that, seen from the test
    camera, they cover a few pixels as a trained scene's do (sub-pixel splats are drawn mostly
    by each renderer's anti-aliasing rule, which is not what the comparison is about).
    """
    scene = synthetic_scene(8000, sh_degree=1, seed=3)
    scene = dataclasses.replace(scene, scales=scene.scales + np.float32(np.log(4.0)))
    path = tmp_path_factory.mktemp("scene") / "scene.sog"
    write_sog(encode_splats(scene).encoded, path)
    return path


@pytest.fixture(scope="session")
def s3_server() -> Iterator[tuple[str, Any]]:
    """A moto S3 server on a local port (path-style URLs, as the embedded runtime serves) and a client."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(signature_version="s3v4"),
    )
    try:
        yield endpoint, client
    finally:
        server.stop()


@pytest.fixture
def static_site(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTP server over a fresh folder: (base URL, folder), as S3 serves a run's prefix."""
    with served(tmp_path) as base:
        yield base, tmp_path
