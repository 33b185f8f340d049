"""docker-compose.yaml: the Airflow 3 stack pointed at the embedded runtime, as Compose reads it.

Compose itself resolves the file (``config --format json``: anchors, merges, interpolation),
so the checks see what ``docker compose up`` would run, with no Docker engine needed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from compose_cli import resolved_config

from splatflow.local.runtime import RuntimeSettings
from splatflow.pipeline.settings import PipelineSettings

REPO_ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_SERVICES = [
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
]
LONG_RUNNING = ["postgres", "splatflow-local", *AIRFLOW_SERVICES]
RUNTIME_HOST = "splatflow-local"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    # Only PATH and HOME: the file's own defaults apply, whatever the caller's shell exports.
    return resolved_config()


def _environment(compose: dict[str, Any], service: str) -> dict[str, str]:
    env: dict[str, str] = compose["services"][service].get("environment") or {}
    return env


def test_stack_has_the_airflow_3_services_and_the_embedded_runtime(compose: dict[str, Any]) -> None:
    assert sorted(compose["services"]) == sorted([*LONG_RUNNING, "airflow-init"])
    commands = {name: compose["services"][name].get("command") for name in AIRFLOW_SERVICES}
    assert commands == {
        "airflow-apiserver": ["api-server"],
        "airflow-scheduler": ["scheduler"],
        "airflow-dag-processor": ["dag-processor"],
        "airflow-triggerer": ["triggerer"],
    }


@pytest.mark.parametrize("service", LONG_RUNNING)
def test_every_long_running_service_has_a_healthcheck(compose: dict[str, Any], service: str) -> None:
    healthcheck = compose["services"][service].get("healthcheck") or {}
    assert healthcheck.get("test"), f"{service} has no healthcheck"
    assert not healthcheck.get("disable", False)


@pytest.mark.parametrize("service", LONG_RUNNING)
def test_no_healthcheck_argument_holds_a_space_that_podman_would_split_at(
    compose: dict[str, Any], service: str
) -> None:
    """Podman's Docker API joins a ``CMD`` test's arguments and splits them again at spaces; one
    shell line (``CMD-SHELL``) reaches the shell whole under Docker and Podman alike."""
    kind, *arguments = compose["services"][service]["healthcheck"]["test"]
    if kind == "CMD":
        assert [argument for argument in arguments if " " in argument] == []
    else:
        assert kind == "CMD-SHELL" and len(arguments) == 1


@pytest.mark.parametrize("service", [*AIRFLOW_SERVICES, "airflow-init"])
def test_airflow_runs_the_local_executor_on_postgres(compose: dict[str, Any], service: str) -> None:
    env = _environment(compose, service)
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("@postgres/airflow")


@pytest.mark.parametrize("service", AIRFLOW_SERVICES)
def test_airflow_waits_for_its_database_runtime_and_init(compose: dict[str, Any], service: str) -> None:
    depends_on = compose["services"][service]["depends_on"]
    assert depends_on["postgres"]["condition"] == "service_healthy"
    assert depends_on[RUNTIME_HOST]["condition"] == "service_healthy"
    assert depends_on["airflow-init"]["condition"] == "service_completed_successfully"


@pytest.mark.parametrize("service", AIRFLOW_SERVICES)
def test_airflow_mounts_the_project_folders(compose: dict[str, Any], service: str) -> None:
    binds = {
        volume["target"]: Path(volume["source"])
        for volume in compose["services"][service]["volumes"]
        if volume["type"] == "bind"
    }
    for folder in ("dags", "plugins", "include"):
        assert binds[f"/opt/airflow/{folder}"] == REPO_ROOT / folder


def test_aws_connection_sends_s3_logs_and_sagemaker_to_the_runtime(compose: dict[str, Any]) -> None:
    from airflow.models.connection import Connection
    from airflow.providers.amazon.aws.utils.connection_wrapper import AwsConnectionWrapper

    for service in AIRFLOW_SERVICES:
        value = _environment(compose, service)["AIRFLOW_CONN_AWS_DEFAULT"]
        wrapper = AwsConnectionWrapper(Connection.from_json(value, conn_id="aws_default"))

        endpoints = {name: wrapper.get_service_endpoint_url(name) for name in ("s3", "logs", "sagemaker")}
        assert endpoints == {
            "s3": f"http://{RUNTIME_HOST}:4566",
            "logs": f"http://{RUNTIME_HOST}:4566",
            "sagemaker": f"http://{RUNTIME_HOST}:4567",
        }
        assert wrapper.region_name == "us-east-1"
        assert (wrapper.aws_access_key_id, wrapper.aws_secret_access_key) == ("testing", "testing")


def test_smtp_connection_sends_mail_to_the_runtime_sink(compose: dict[str, Any]) -> None:
    for service in AIRFLOW_SERVICES:
        connection = json.loads(_environment(compose, service)["AIRFLOW_CONN_SMTP_DEFAULT"])
        assert connection["conn_type"] == "smtp"
        assert (connection["host"], connection["port"]) == (RUNTIME_HOST, 1025)
        assert connection["extra"]["disable_tls"] is True


def test_runtime_serves_on_all_interfaces_and_keeps_state_in_a_volume(compose: dict[str, Any]) -> None:
    runtime = compose["services"][RUNTIME_HOST]

    assert runtime["command"] == ["python", "-m", "splatflow.local", "serve", "--host", "0.0.0.0", "--sample"]
    assert {port["target"] for port in runtime["ports"]} == {4566, 4567, 1025}
    assert all(port["host_ip"] == "127.0.0.1" for port in runtime["ports"])
    state = [volume for volume in runtime["volumes"] if volume["type"] == "volume"]
    assert [volume["target"] for volume in state] == ["/opt/airflow/.local"]
    assert [volume["source"] for volume in state] == ["splatflow-local-state"]
    assert "splatflow-local-state" in compose["volumes"]


def test_runtime_image_carries_every_stage_so_its_runner_can_run_them(compose: dict[str, Any]) -> None:
    build = compose["services"][RUNTIME_HOST]["build"]
    assert Path(build["context"]) == REPO_ROOT
    assert set(build["args"]["SPLATFLOW_EXTRAS"].split(",")) == {"local", "sfm", "train", "compress"}


def _init_script(compose: dict[str, Any]) -> str:
    init = compose["services"]["airflow-init"]
    assert init["entrypoint"] == ["/bin/bash"]
    script: str = init["command"][-1]
    return script


def test_init_creates_the_gpu_training_pool_the_train_task_waits_in(compose: dict[str, Any]) -> None:
    settings = PipelineSettings()

    assert (
        f'airflow pools set {settings.gpu_pool} {settings.gpu_pool_slots} "GPU training jobs (quota)" '
        "--include-deferred" in _init_script(compose)
    ), "without the pool, train would never be scheduled"


@pytest.mark.parametrize("service", AIRFLOW_SERVICES)
def test_training_asks_for_the_cpu_instance_type_the_runtime_can_run(compose: dict[str, Any], service: str) -> None:
    assert _environment(compose, service)["SPLATFLOW_TRAIN_INSTANCE_TYPE"] == RuntimeSettings().train_instance_type


@pytest.mark.parametrize("service", AIRFLOW_SERVICES)
def test_dags_start_unpaused_so_the_first_trigger_runs(compose: dict[str, Any], service: str) -> None:
    assert _environment(compose, service)["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] == "false"


@pytest.mark.parametrize("service", AIRFLOW_SERVICES)
def test_the_emails_links_are_signed_for_the_s3_port_the_host_publishes(compose: dict[str, Any], service: str) -> None:
    environment = _environment(compose, service)
    conn_id = environment["SPLATFLOW_PRESIGN_CONN_ID"]
    links = json.loads(environment[f"AIRFLOW_CONN_{conn_id.upper()}"])
    published = {port["target"]: port for port in compose["services"][RUNTIME_HOST]["ports"]}

    assert links["extra"]["service_config"]["s3"]["endpoint_url"] == "http://localhost:4566"
    assert (published[4566]["host_ip"], published[4566]["published"]) == ("127.0.0.1", "4566")


def test_the_runtime_runs_as_the_airflow_user_on_folders_init_gave_it(compose: dict[str, Any]) -> None:
    runtime = compose["services"][RUNTIME_HOST]
    init = compose["services"]["airflow-init"]
    uid = compose["services"]["airflow-scheduler"]["user"].split(":")[0]

    assert runtime["user"].split(":")[0] == uid
    assert runtime["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
    runtime_targets = {
        volume["target"] for volume in runtime["volumes"] if volume["target"].startswith("/opt/airflow/.")
    }
    init_targets = {volume["target"] for volume in init["volumes"]}
    assert runtime_targets <= init_targets
    assert f'chown -R "{uid}:0" /opt/airflow/logs /opt/airflow/config /opt/airflow/.local' in _init_script(compose)


def test_the_runtime_uploads_the_sample_and_saves_mail_on_the_host(compose: dict[str, Any]) -> None:
    volumes = {volume["target"]: volume for volume in compose["services"][RUNTIME_HOST]["volumes"]}

    assert volumes["/opt/airflow/data/sample"]["type"] == "bind" and volumes["/opt/airflow/data/sample"]["read_only"]
    assert Path(volumes["/opt/airflow/data/sample"]["source"]) == REPO_ROOT / "data" / "sample"
    assert volumes["/opt/airflow/.local/mail"]["type"] == "bind"
    assert Path(volumes["/opt/airflow/.local/mail"]["source"]) == REPO_ROOT / ".local" / "compose" / "mail"


def test_the_host_ports_move_with_their_variables_and_the_links_follow_the_s3_port() -> None:
    moved = resolved_config(
        {
            "SPLATFLOW_API_PORT": "18080",
            "SPLATFLOW_AWS_PORT": "14566",
            "SPLATFLOW_SAGEMAKER_PORT": "14567",
            "SPLATFLOW_SMTP_PORT": "11025",
        }
    )
    published = {port["target"]: port["published"] for port in moved["services"][RUNTIME_HOST]["ports"]}
    api = {port["target"]: port["published"] for port in moved["services"]["airflow-apiserver"]["ports"]}
    environment = _environment(moved, "airflow-scheduler")
    links = json.loads(environment[f"AIRFLOW_CONN_{environment['SPLATFLOW_PRESIGN_CONN_ID'].upper()}"])

    assert published == {4566: "14566", 4567: "14567", 1025: "11025"}
    assert api == {8080: "18080"}
    assert links["extra"]["service_config"]["s3"]["endpoint_url"] == "http://localhost:14566"
