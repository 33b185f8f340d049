"""``docker run`` of a job's image the way SageMaker runs it.

Each point follows AWS's documentation for bring-your-own containers; ``docs/sagemaker-containers.md``
quotes the sources. In short:

- Training: ``docker run <image> train``; ``ContainerEntrypoint`` / ``ContainerArguments``
  replace the entry point and the ``train`` argument. Processing: ``docker run <image>``, with
  the same overrides. The image's own ``USER``, ``ENTRYPOINT`` and working folder apply.
- Every input (channel, processing input, the config files) is mounted at its path read-only;
  the output, model and checkpoint folders are mounted writable. All of them are made by the
  runner (as SageMaker's agent makes them, owned by whoever runs it, root on a CI machine)
  before the container starts, so an image whose user cannot write there fails here as it
  would on SageMaker.
- ``TRAINING_JOB_NAME`` and ``TRAINING_JOB_ARN`` for Training, plus the request's ``Environment``.
- No network at all under network isolation (``--network none``).
- GPU instance types get the engine's GPUs (``--gpus all``) when the host has NVIDIA GPUs.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import PurePosixPath

from splatflow.contract.instances import is_gpu_instance
from splatflow.local.sagemaker.backends import BackendError, Command
from splatflow.local.sagemaker.job_plans import JobPlan
from splatflow.local.sagemaker.workspace import Workspace


def host_has_nvidia_gpus() -> bool:
    """True when ``nvidia-smi`` lists at least one GPU on this machine."""
    if shutil.which("nvidia-smi") is None:
        return False
    try:
        result = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0 and "GPU" in result.stdout


def container_name(job_name: str) -> str:
    return f"splatflow-{job_name}"


def _mounts(plan: JobPlan, workspace: Workspace) -> list[str]:
    """``-v`` arguments, parents before children so a nested mount is not hidden by its parent's."""
    modes: dict[str, str] = {}
    for path in plan.writable_paths:
        modes[path] = "rw"
    for path in plan.read_only_paths:
        modes[path] = "ro"
    arguments: list[str] = []
    for path in sorted(modes, key=lambda item: len(PurePosixPath(item).parts)):
        source = workspace.host_path(path)
        source.mkdir(mode=0o755, parents=True, exist_ok=True)
        arguments += ["-v", f"{source}:{path}:{modes[path]}"]
    return arguments


def container_command(
    plan: JobPlan, workspace: Workspace, job_name: str, environment: dict[str, str], gpus: bool
) -> Command:
    """The ``docker run`` command line for one job; ``environment`` reaches the engine (``DOCKER_HOST``)."""
    if gpus and not is_gpu_instance(plan.instance_type):
        gpus = False
    name = container_name(job_name)
    # No --rm: Podman's Docker API (4.3) can remove an auto-removed container before the client
    # reads its exit status, and `docker run` then reports 0 for a failed job. The executor
    # removes the container itself once the run has ended (remove_container).
    argv = ["docker", "run", "--name", name, "--pull", "never", *_mounts(plan, workspace)]
    if plan.network_isolation:
        argv += ["--network", "none"]
    if gpus:
        argv += ["--gpus", "all"]
    for key, value in plan.environment.items():
        argv += ["-e", f"{key}={value}"]
    if plan.entrypoint:
        argv += ["--entrypoint", plan.entrypoint[0]]
    argv.append(plan.image)
    if plan.entrypoint:
        argv += plan.entrypoint[1:]
    if plan.arguments:
        argv += plan.arguments
    elif plan.is_training and not plan.entrypoint:
        argv.append("train")
    return Command(argv, environment, container_name=name)


def remove_container(name: str, environment: dict[str, str]) -> None:
    """Remove a job's container (a leftover of an earlier runner, or one that has just ended)."""
    subprocess.run(["docker", "rm", "--force", name], capture_output=True, env=environment, check=False)


def require_image(image: str, environment: dict[str, str]) -> None:
    """Fail the job before it starts when the engine does not have its image (nothing is pulled)."""
    result = subprocess.run(
        ["docker", "image", "inspect", image], capture_output=True, text=True, env=environment, check=False
    )
    if result.returncode != 0:
        raise BackendError(
            f"CannotStartContainerError: the image {image} is not in the local container engine; "
            "build the stage images with `python -m splatflow.local images`"
        )
