"""The images docker-compose.yaml runs, made ready before ``docker compose up`` where Compose cannot make them.

``docker compose up --build`` builds two images from the project's Dockerfile and pulls
PostgreSQL. Where no registry answers, or where Compose's build through an engine's API lacks the
host's pip settings (Podman's API on a machine whose PyPI traffic goes through a proxy with its
own certificate authority), this builds the same two images, from the same Dockerfile with the
same build arguments, with the project's builder (bases pulled, or stood in), and makes
PostgreSQL's image available the same way. ``docker compose up`` then finds them and builds nothing.
"""

from __future__ import annotations

from pathlib import Path

from splatflow.local.containers.images import Builder, BuiltImage, StageImage, build_image, ensure_base_image

PULLED = ("docker.io/library/postgres:16",)
"""What the compose file's services without a ``build:`` section run."""

STACK_EXTRAS = "local,sfm,train,compress"
"""The runtime's image carries every stage's extra, so its job runner can run the stages as processes."""


def compose_images(repo_root: Path) -> list[StageImage]:
    """The images the compose file's ``build:`` sections make, under the names its services run."""
    dockerfile = repo_root / "Dockerfile"
    return [
        StageImage("splatflow-airflow", "splatflow-airflow:local", dockerfile, {"SPLATFLOW_EXTRAS": "local"}),
        StageImage("splatflow-local", "splatflow-local:local", dockerfile, {"SPLATFLOW_EXTRAS": STACK_EXTRAS}),
    ]


def build_compose_images(builder: Builder, repo_root: Path) -> list[BuiltImage]:
    """Make every image the stack runs available: PostgreSQL's, then the two built from ``repo_root``."""
    for reference in PULLED:
        ensure_base_image(builder, reference)
    return [build_image(builder, image, repo_root) for image in compose_images(repo_root)]
