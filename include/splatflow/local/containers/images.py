"""Build the three stage images from their Dockerfiles, under the names the job requests carry.

The images are tagged exactly as the pipeline names them (``<SPLATFLOW_IMAGE_REGISTRY>/sfm:<tag>``
and so on), so the job runner's container backend runs what a SageMaker job would pull. Builds
keep their layers between runs (a warm rebuild after a code change redoes only the last steps).
"""

from __future__ import annotations

import logging
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from splatflow.local.containers.base_images import (
    STAND_INS,
    BaseImageError,
    Provenance,
    StandIn,
    base_images,
    build_stand_in,
)
from splatflow.local.containers.compose_bases import COMPOSE_STAND_INS, DerivedStandIn
from splatflow.local.containers.engine import Engine, podman_environment
from splatflow.local.containers.pip_config import build_mounts, host_pip_config
from splatflow.pipeline.settings import PipelineSettings

log = logging.getLogger(__name__)

STAGE_REPOSITORIES = ("sfm", "3dgs", "compressor")
"""Image repository names; each has ``containers/<name>/Dockerfile``."""

STAND_IN_LABEL = "org.splatflow.stand-in"
"""Set on stand-in base images, so a later build can tell a stand-in from the real base."""

LOCAL_BUILD_ARGS: dict[str, dict[str, str]] = {"3dgs": {"ACCELERATOR": "cpu"}}
"""What the local images are built with where production's differ: the 3dgs image for the CPU
(torch's CPU wheel, no CUDA extension), since the machines that run them locally have no GPU."""


class ImageBuildError(RuntimeError):
    """An image did not build; the message carries the end of the build's output."""


@dataclass(frozen=True)
class Builder:
    """The command line that builds and imports images on an engine."""

    cli: str
    environment: dict[str, str]

    @property
    def carries_host_pip_config(self) -> bool:
        """Podman mounts volumes into build steps; Docker's builder cannot, so its builds use the network as is."""
        return self.cli == "podman"

    @classmethod
    def for_engine(cls, engine: Engine) -> Builder:
        if engine.kind == "podman":
            return cls("podman", podman_environment())
        return cls("docker", engine.client_environment())

    def run(self, *arguments: str, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.cli, *arguments],
            env=self.environment,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )

    def image_exists(self, reference: str) -> bool:
        return self.run("image", "inspect", reference).returncode == 0

    def label(self, reference: str, name: str) -> str:
        result = self.run("image", "inspect", "--format", f'{{{{index .Config.Labels "{name}"}}}}', reference)
        value = result.stdout.strip()
        return "" if result.returncode != 0 or value == "<no value>" else value


@dataclass(frozen=True)
class StageImage:
    repository: str
    reference: str
    dockerfile: Path
    build_args: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BuiltImage:
    image: StageImage
    seconds: float
    size_bytes: int
    bases: dict[str, Provenance]


def stage_images(
    repo_root: Path,
    settings: PipelineSettings | None = None,
    build_args: Mapping[str, Mapping[str, str]] | None = None,
    repositories: tuple[str, ...] = STAGE_REPOSITORIES,
) -> list[StageImage]:
    """The stage images under the names the pipeline's requests use."""
    names = settings or PipelineSettings.from_environment()
    arguments = LOCAL_BUILD_ARGS if build_args is None else build_args
    return [
        StageImage(
            repository=repository,
            reference=names.image_uri(repository),
            dockerfile=repo_root / "containers" / repository / "Dockerfile",
            build_args=dict(arguments.get(repository, {})),
        )
        for repository in repositories
    ]


def ensure_base_image(builder: Builder, reference: str) -> Provenance:
    """Make ``reference`` available: present already, pulled, or a stand-in built from Debian (and PyPI)."""
    stand_in: StandIn | DerivedStandIn | None = STAND_INS.get(reference) or COMPOSE_STAND_INS.get(reference)
    if builder.image_exists(reference):
        # Images built on a stand-in inherit its label; only the stand-in's own name is one.
        recipe = builder.label(reference, STAND_IN_LABEL) if stand_in is not None else ""
        if stand_in is None or not recipe:
            return "present"
        if recipe == stand_in.recipe:
            return "stand-in"
        log.info("the stand-in for %s was built from an older recipe; building it again", reference)
    else:
        pulled = builder.run("pull", reference, timeout=1800)
        if pulled.returncode == 0:
            return "pulled"
        if stand_in is None:
            raise BaseImageError(
                f"{reference} is not here, cannot be pulled ({pulled.stderr.strip()[-300:]}), "
                "and no stand-in is known for it"
            )
        log.warning("%s cannot be pulled (%s); building a stand-in", reference, pulled.stderr.strip()[-200:])
    assert stand_in is not None
    if isinstance(stand_in, DerivedStandIn):
        build_derived_stand_in(builder, stand_in)
    else:
        build_stand_in(stand_in, [builder.cli], builder.environment, label=STAND_IN_LABEL)
    return "stand-in"


def build_derived_stand_in(builder: Builder, stand_in: DerivedStandIn) -> None:
    """Build a stand-in ``FROM`` its base (made available first), labelled like the Debian ones."""
    ensure_base_image(builder, stand_in.base)
    log.info("building a stand-in for %s on %s (%s)", stand_in.image, stand_in.base, stand_in.differences)
    labels = {STAND_IN_LABEL: stand_in.recipe, f"{STAND_IN_LABEL}.differences": stand_in.differences}
    arguments = ["build", "-t", stand_in.image, *(f"--label={name}={value}" for name, value in labels.items())]
    with tempfile.TemporaryDirectory(prefix="splatflow-stand-in-") as scratch:
        context = Path(scratch) / "context"
        context.mkdir()
        stand_in.write_context(context)
        result = _build(builder, arguments, context, Path(scratch))
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()
        raise ImageBuildError(
            f"the stand-in {stand_in.image} did not build (exit {result.returncode}):\n{output[-4000:]}"
        )


def _build(builder: Builder, arguments: list[str], context: Path, scratch: Path) -> subprocess.CompletedProcess[str]:
    """``build`` with the host's pip configuration carried in where the engine can (Podman)."""
    if builder.carries_host_pip_config:
        arguments = [*arguments, "--layers", *build_mounts(host_pip_config(), scratch / "pip.conf")]
    return builder.run(*arguments, str(context))


def build_image(builder: Builder, image: StageImage, context: Path, use_cache: bool = True) -> BuiltImage:
    """Build one stage image from ``context``, with its bases made available first.

    ``use_cache=False`` rebuilds every layer (a cold build on a machine that has the bases).
    """
    dockerfile_text = image.dockerfile.read_text(encoding="utf-8")
    references = base_images(dockerfile_text, image.build_args)
    bases = {reference: ensure_base_image(builder, reference) for reference in references}
    arguments = ["build", "-f", str(image.dockerfile), "-t", image.reference]
    if not use_cache:
        arguments.append("--no-cache")
    for name, value in image.build_args.items():
        arguments += ["--build-arg", f"{name}={value}"]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="splatflow-build-") as scratch:
        log.info("building %s from %s", image.reference, image.dockerfile)
        result = _build(builder, arguments, context, Path(scratch))
    seconds = time.monotonic() - started
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()
        raise ImageBuildError(f"{image.reference} did not build (exit {result.returncode}):\n{output[-4000:]}")
    size = builder.run("image", "inspect", "--format", "{{.Size}}", image.reference).stdout.strip()
    return BuiltImage(image, seconds, int(size) if size.isdigit() else 0, bases)


def build_stage_images(engine: Engine, repo_root: Path, images: list[StageImage]) -> list[BuiltImage]:
    builder = Builder.for_engine(engine)
    return [build_image(builder, image, repo_root) for image in images]


def missing_images(engine: Engine, images: list[StageImage]) -> list[str]:
    """The stage images the engine does not have, by reference."""
    builder = Builder.for_engine(engine)
    return [image.reference for image in images if not builder.image_exists(image.reference)]
