"""``python -m splatflow.local up`` as a person runs it: started, used from the UI and a shell, then stopped.

The stack runs on ports of its own, as a separate process, with a marker in its environment that
every process it starts inherits: after Ctrl-C the test looks for that marker in every process
on the machine, so a process that left ``up``'s tree (an orphan) is found too. The metadata
database is read directly, with SQLite, after the stack is gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psutil
import pytest
from polling import wait_for
from screenshots import SCREENSHOTS
from synthetic_scene import synthetic_scene

from splatflow.formats.ply import write_ply
from splatflow.local.aws_clients import aws_client
from splatflow.local.demo import SAMPLE_KEY, sample_zip
from splatflow.local.net import free_port
from splatflow.local.stack import PASSWORD_FILE, Trigger

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
UPLOADS = "splatflow-uploads"
MARKER = "SPLATFLOW_TEST_STACK"
READY_SECONDS = 300
STOP_SECONDS = 30
CHROMIUM = "/usr/bin/chromium"


@dataclass
class Stack:
    process: subprocess.Popen[bytes]
    marker: str
    state: Path
    output: Path
    ports: dict[str, int]

    @property
    def api_url(self) -> str:
        return f"http://localhost:{self.ports['api']}"

    def printed(self) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace")

    @property
    def password_file(self) -> Path:
        return self.state / "airflow" / PASSWORD_FILE

    def password(self) -> str:
        password: str = json.loads(self.password_file.read_text(encoding="utf-8"))["admin"]
        return password

    def printed_curl(self) -> str:
        lines = self.printed().split("From a shell:\n", 1)[1].split("\n\n", 1)[0]
        return lines

    def s3(self) -> Any:
        return aws_client("s3", f"http://127.0.0.1:{self.ports['aws']}", "us-east-1")

    def api(self, path: str, payload: object = None, method: str = "GET") -> Any:
        import urllib.request

        def ask(url: str, body: object, token: str | None, verb: str) -> Any:
            headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
            data = None if body is None else json.dumps(body).encode()
            request = urllib.request.Request(url, data=data, headers=headers, method=verb)
            with urllib.request.urlopen(request, timeout=30) as reply:
                return json.loads(reply.read() or b"null")

        token = ask(f"{self.api_url}/auth/token", {"username": "admin", "password": self.password()}, None, "POST")
        return ask(f"{self.api_url}/api/v2{path}", payload, token["access_token"], method)

    def run_state(self, run_id: str) -> str:
        state: str = self.api(f"/dags/splat_pipeline/dagRuns/{quote(run_id, safe='')}")["state"]
        return state

    def started_processes(self) -> list[psutil.Process]:
        """The marked processes and every descendant of ``up``: a process that sets its title (Airflow's
        components do) may overwrite its environment, marker and all."""
        found = {process.pid: process for process in self.marked_processes()}
        with contextlib.suppress(psutil.NoSuchProcess):
            descendants = psutil.Process(self.process.pid).children(recursive=True)
            found.update({process.pid: process for process in descendants})
        return list(found.values())

    def marked_processes(self) -> list[psutil.Process]:
        """Every live process that carries this stack's marker (``up`` and all it started, however deep)."""
        found = []
        for process in psutil.process_iter():
            try:
                if process.environ().get(MARKER) == self.marker and process.status() != psutil.STATUS_ZOMBIE:
                    found.append(process)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        return found


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    state = tmp_path_factory.mktemp("stack")
    ports = {name: free_port() for name in ("aws", "sagemaker", "smtp", "api", "worker_logs", "trigger_logs")}
    marker = uuid.uuid4().hex
    environment = {
        **os.environ,
        MARKER: marker,
        # Airflow's own log servers, off their default ports, so that another stack on this machine does not clash.
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(ports["worker_logs"]),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(ports["trigger_logs"]),
        "SPLATFLOW_CHECK_INTERVAL_SECONDS": "1",
    }
    command = [sys.executable, "-m", "splatflow.local", "up", "--state-dir", str(state / "local")]
    for name in ("aws", "sagemaker", "smtp", "api"):
        command += [f"--{name}-port", str(ports[name])]
    output = state / "up.log"
    with output.open("wb") as log:
        # A session and process group of its own, as a terminal gives a command.
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    started = Stack(process, marker, state / "local", output, ports)
    try:
        wait_for(
            lambda: "From a shell:" in started.printed() or process.poll() is not None,
            READY_SECONDS,
            "up printed a ready trigger",
            interval=2,
        )
        assert process.poll() is None, started.printed()[-3000:]
        yield started
    finally:
        for leftover in started.started_processes():
            with contextlib.suppress(psutil.NoSuchProcess):
                leftover.kill()


def test_up_puts_the_sample_in_the_uploads_bucket_and_prints_a_ready_trigger(stack: Stack) -> None:
    sample = stack.s3().get_object(Bucket=UPLOADS, Key=SAMPLE_KEY)["Body"].read()
    assert sample == sample_zip(), "the bundled sample, zipped as the demo zips it"

    printed = stack.printed()
    s3_url = f"s3://{UPLOADS}/{SAMPLE_KEY}"
    assert (
        f"open {stack.api_url}, sign in as admin with the password {stack.password()} (kept in {stack.password_file})"
        in printed
    ), "the first start shows the password it generated"
    assert f"put {s3_url} in 'Photos (ZIP) in S3'" in printed
    trigger = Trigger(api_url=stack.api_url, s3_url=s3_url, password_file=stack.password_file)
    assert stack.printed_curl() == trigger.curl()
    assert stack.password() not in stack.printed_curl()
    assert "| python3 -c" in trigger.curl()


LOOPBACK = {"127.0.0.1", "::1"}


def test_every_listener_up_started_binds_to_loopback(stack: Stack) -> None:
    """The runtime, the API server and Airflow's two log servers (a task's and a trigger's log while it runs)."""
    started = {process.pid for process in stack.started_processes()}
    listening = [
        (connection.laddr.ip, connection.laddr.port)
        for connection in psutil.net_connections(kind="inet")
        if connection.status == psutil.CONN_LISTEN and connection.pid in started
    ]
    ports = {port for _, port in listening}
    expected = {stack.ports[name] for name in ("aws", "sagemaker", "smtp", "api", "worker_logs", "trigger_logs")}
    assert expected <= ports, f"listening: {sorted(listening)}"
    assert [(ip, port) for ip, port in listening if ip not in LOOPBACK] == []


def test_the_readme_gives_the_printed_curl_example_for_the_default_port() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    default = Trigger(
        api_url="http://localhost:8080",
        s3_url=f"s3://{UPLOADS}/{SAMPLE_KEY}",
        password_file=Path(".local/airflow") / PASSWORD_FILE,
    )
    assert default.curl() in readme


def test_the_trigger_form_marks_the_email_asks_for_it_and_names_the_allowed_bucket(stack: Stack) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        _sign_in(page, stack)
        page.goto(f"{stack.api_url}/dags/splat_pipeline")
        page.get_by_role("button", name="Trigger").first.click()
        parameters = page.get_by_role("button", name="Run Parameters")
        parameters.wait_for()
        s3_help = page.get_by_text("the ZIP of the photos, e.g.").inner_text()
        labels = {title: page.locator("label", has_text=title).first.inner_text() for title in FORM_TITLES}
        trigger = page.get_by_role("button", name="Trigger", exact=True).last
        errors_while_empty = parameters.locator("svg").count() - _indicator_icons(parameters)
        enabled_while_empty = trigger.is_enabled()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "trigger-form.png"), full_page=True)
        page.locator("xpath=//label[contains(., 'Email')]/ancestor::*[.//input][1]//input").first.fill(
            "pilot@example.com"
        )
        page.wait_for_timeout(500)
        errors_once_filled = parameters.locator("svg").count() - _indicator_icons(parameters)
        enabled_once_filled = trigger.is_enabled()
        page.screenshot(path=str(SCREENSHOTS / "trigger-form-filled.png"), full_page=True)
        browser.close()
    assert f"s3://{UPLOADS}/site-42/photos.zip" in s3_help and f"only from {UPLOADS}" in s3_help
    assert {title for title, text in labels.items() if "*" in text} == {"Email"}, labels
    assert (errors_while_empty, enabled_while_empty) == (1, False), "an empty email is what the form asks for"
    assert (errors_once_filled, enabled_once_filled) == (0, True), "with an address the run can be triggered"


FORM_TITLES = ("Photos (ZIP) in S3", "Email", "Quality preset")
"""Fields the form shows open; the required ones carry Airflow's asterisk in their label."""


def _indicator_icons(trigger: Any) -> int:
    """The accordion's own open/closed chevron, if it draws one inside its trigger."""
    return int(trigger.locator("[data-part=item-indicator] svg").count())


def _sign_in(page: Any, stack: Stack) -> None:
    page.goto(stack.api_url)
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", stack.password())
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/auth/" not in url, timeout=30_000)


def _compress_only_model(stack: Stack) -> str:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.ply"
        write_ply(synthetic_scene(500, sh_degree=0, seed=4), path)
        stack.s3().put_object(Bucket=UPLOADS, Key="models/small.ply", Body=path.read_bytes())
    return f"s3://{UPLOADS}/models/small.ply"


def test_view_splat_opens_the_runs_splat_tab_inside_airflow(stack: Stack) -> None:
    conf = {"steps": "compress_only", "model_url": _compress_only_model(stack), "email": "viewer@example.com"}
    run_id = stack.api("/dags/splat_pipeline/dagRuns", {"logical_date": None, "conf": conf}, "POST")["dag_run_id"]
    wait_for(lambda: stack.run_state(run_id) in {"success", "failed"}, 240, "the compress-only run finished", 3)
    assert stack.run_state(run_id) == "success"
    from playwright.sync_api import sync_playwright

    run = quote(run_id, safe="")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        _sign_in(page, stack)
        page.goto(f"{stack.api_url}/dags/splat_pipeline/runs/{run}/tasks/compress/details")
        link = page.get_by_role("link", name="View splat")
        link.wait_for(timeout=60_000)
        target = link.get_attribute("target")
        link.click()
        page.wait_for_url(f"**/runs/{run}/plugin/splat", timeout=30_000)
        viewer = page.frame_locator("iframe").locator("#metrics")
        viewer.wait_for(timeout=60_000)
        pages = len(browser.contexts[0].pages)
        airflow_around = page.get_by_role("link", name="splat_pipeline").count()
        browser.close()
    assert target in (None, "_self") and pages == 1, "the link opens in Airflow's tab"
    assert airflow_around > 0, "Airflow's page stays around the viewer"


def test_the_splat_tab_of_a_failed_run_says_why_in_the_viewers_style(stack: Stack) -> None:
    stack.s3().put_object(Bucket=UPLOADS, Key="models/broken.ply", Body=b"not a ply file at all")
    conf = {"steps": "compress_only", "model_url": f"s3://{UPLOADS}/models/broken.ply", "email": "viewer@example.com"}
    run_id = stack.api("/dags/splat_pipeline/dagRuns", {"logical_date": None, "conf": conf}, "POST")["dag_run_id"]
    wait_for(lambda: stack.run_state(run_id) in {"success", "failed"}, 240, "the broken run finished", 3)
    assert stack.run_state(run_id) == "failed"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        _sign_in(page, stack)
        page.goto(f"{stack.api_url}/dags/splat_pipeline/runs/{quote(run_id, safe='')}/plugin/splat")
        notice = page.frame_locator("iframe").locator("#notice")
        notice.wait_for(timeout=60_000)
        heading = notice.locator("h1").inner_text()
        shown = notice.inner_text()
        frame_text = page.frame_locator("iframe").locator("body").inner_text()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "splat-tab-failed-run.png"))
        browser.close()
    assert heading == "This run failed before it published a splat"
    assert "Its compress step failed" in shown
    assert "on_failure task" in shown and "trigger the run again" in shown
    assert '"detail"' not in frame_text


def test_ctrl_c_stops_everything_up_started_within_30_s_and_leaves_no_run_running(stack: Stack) -> None:
    printed_run = json.loads(
        subprocess.run(["bash", "-c", stack.printed_curl()], capture_output=True, check=True).stdout
    )
    run_id = printed_run["dag_run_id"]
    wait_for(lambda: stack.run_state(run_id) == "running", 120, "the run from the printed curl command started")
    jobs = stack.state / "sagemaker" / "jobs"
    wait_for(lambda: list(jobs.glob("*/*.json")), 180, "the run's first SageMaker job started", 2)
    started = stack.marked_processes()
    assert len(started) > 5, "up, Airflow's components, their workers and a stage job are running"

    stopped_at = time.monotonic()
    # What Ctrl-C does: SIGINT to the terminal's foreground process group, ``up`` and its children
    # (Airflow's own session is not in it). SIGTERM goes to the same handler.
    os.killpg(stack.process.pid, signal.SIGINT)
    stack.process.wait(timeout=STOP_SECONDS)
    wait_for(
        lambda: not stack.marked_processes(),
        max(0.0, STOP_SECONDS - (time.monotonic() - stopped_at)) + 0.5,
        "no process up started is left",
        0.2,
    )
    took = time.monotonic() - stopped_at

    assert took <= STOP_SECONDS
    for name, port in stack.ports.items():
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0, f"the {name} port {port} is still open"
    with sqlite3.connect(stack.state / "airflow" / "airflow.db") as database:
        runs = dict(database.execute("select run_id, state from dag_run where dag_id = 'splat_pipeline'").fetchall())
        unfinished = database.execute("select count(*) from dag_run where state in ('running', 'queued')").fetchone()
        reprocess_runs = database.execute("select count(*) from dag_run where dag_id = 'splat_reprocess'").fetchone()
    assert runs[run_id] == "failed"
    assert unfinished == (0,), "no run is left marked running or queued"
    assert reprocess_runs == (0,), "splat_reprocess started no run on its own"
