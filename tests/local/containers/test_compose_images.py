"""The images ``images --compose`` makes are the ones docker-compose.yaml runs, as Compose resolves the file."""

from __future__ import annotations

from pathlib import Path

from compose_cli import resolved_config

from splatflow.local.containers.base_images import qualified
from splatflow.local.containers.compose_images import PULLED, compose_images

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_the_built_images_are_the_compose_files_builds_under_the_names_its_services_run() -> None:
    services = resolved_config()["services"]
    builds = {
        (service["image"], tuple(sorted((service["build"].get("args") or {}).items())))
        for service in services.values()
        if "build" in service
    }
    made = {(image.reference, tuple(sorted(image.build_args.items()))) for image in compose_images(REPO_ROOT)}
    # Compose passes no SPLATFLOW_EXTRAS where the file sets none: the Dockerfile's default ("local") applies.
    dockerfile_default = ("SPLATFLOW_EXTRAS", "local")
    assert {(name, args or (dockerfile_default,)) for name, args in builds} == made
    assert all(service["build"]["context"] == str(REPO_ROOT) for service in services.values() if "build" in service)
    assert "ARG SPLATFLOW_EXTRAS=local\n" in (REPO_ROOT / "Dockerfile").read_text(encoding="utf-8")


def test_every_image_the_stack_pulls_is_made_available_too() -> None:
    services = resolved_config()["services"]
    pulled = {qualified(service["image"]) for service in services.values() if "build" not in service}
    assert pulled == set(PULLED)
