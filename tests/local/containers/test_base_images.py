"""Which base images a Dockerfile needs, and the stand-ins for the ones a closed network cannot pull."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from splatflow.local.containers.base_images import STAND_INS, base_images, import_root, qualified
from splatflow.local.containers.engine import podman_environment
from splatflow.local.containers.images import LOCAL_BUILD_ARGS, STAGE_REPOSITORIES, STAND_IN_LABEL, Builder

REPO_ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("python:3.11.14-slim-bookworm", "docker.io/library/python:3.11.14-slim-bookworm"),
        ("nvidia/cuda:13.0.2-base-ubuntu24.04", "docker.io/nvidia/cuda:13.0.2-base-ubuntu24.04"),
        ("public.ecr.aws/docker/library/python:3.11", "public.ecr.aws/docker/library/python:3.11"),
        ("localhost:5000/base:1", "localhost:5000/base:1"),
    ],
)
def test_short_names_resolve_as_docker_resolves_them(reference: str, expected: str) -> None:
    assert qualified(reference) == expected


def test_bases_skip_earlier_stages_and_substitute_build_arguments() -> None:
    dockerfile = (
        "ARG BASE=python:3.11.14-slim-bookworm\n"
        "ARG FLAVOUR\n"
        "FROM --platform=linux/amd64 ${BASE} AS build\n"
        "RUN true\n"
        "FROM build AS test\n"
        "FROM --platform=linux/amd64 debian:bookworm-$FLAVOUR\n"
        "COPY --from=build /opt/venv /opt/venv\n"
        "COPY --chmod=0755 --from=busybox:1.37 /bin/busybox /bin/\n"
    )

    assert base_images(dockerfile, {"FLAVOUR": "slim"}) == [
        "docker.io/library/python:3.11.14-slim-bookworm",
        "docker.io/library/debian:bookworm-slim",
        "docker.io/library/busybox:1.37",
    ]
    assert base_images(dockerfile, {"BASE": "python:3.12-slim", "FLAVOUR": "x"})[0] == (
        "docker.io/library/python:3.12-slim"
    )


def test_a_stage_the_build_arguments_leave_unused_needs_no_base() -> None:
    dockerfile = (
        "ARG ACCELERATOR=cuda\n"
        "FROM python:3.11 AS build-cpu\n"
        "FROM python:3.11 AS build-cuda\n"
        "FROM nvidia/cuda:13.0.2-base-ubuntu24.04 AS compat\n"
        "FROM python:3.11 AS runtime-cpu\n"
        "COPY --from=build-cpu /opt/venv /opt/venv\n"
        "FROM python:3.11 AS runtime-cuda\n"
        "COPY --from=build-cuda /opt/venv /opt/venv\n"
        "COPY --from=compat /usr/local/cuda-13.0/compat /usr/local/cuda/compat\n"
        "FROM runtime-${ACCELERATOR}\n"
    )

    assert base_images(dockerfile, {"ACCELERATOR": "cpu"}) == ["docker.io/library/python:3.11"]
    assert base_images(dockerfile) == ["docker.io/library/python:3.11", "docker.io/nvidia/cuda:13.0.2-base-ubuntu24.04"]


@pytest.mark.parametrize("repository", STAGE_REPOSITORIES)
def test_every_local_stage_image_base_has_a_stand_in(repository: str) -> None:
    # A machine that reaches only PyPI and Debian's archive must still build every local image.
    text = (REPO_ROOT / "containers" / repository / "Dockerfile").read_text(encoding="utf-8")
    bases = base_images(text, LOCAL_BUILD_ARGS.get(repository, {}))

    assert bases, "a stage Dockerfile names a base image"
    assert [base for base in bases if base not in STAND_INS] == []


def test_stand_ins_say_what_they_differ_in() -> None:
    for stand_in in STAND_INS.values():
        assert stand_in.image == qualified(stand_in.image)
        assert stand_in.differences and stand_in.packages


def test_a_changed_recipe_has_another_digest_so_an_old_stand_in_is_rebuilt() -> None:
    stand_in = next(iter(STAND_INS.values()))
    grown = replace(stand_in, packages=(*stand_in.packages, "git"))

    assert grown.recipe != stand_in.recipe
    assert replace(stand_in, differences="reworded").recipe == stand_in.recipe


def test_an_imported_stand_in_carries_its_recipe_as_the_whole_label(tmp_path: Path) -> None:
    stand_in = replace(
        STAND_INS["docker.io/library/python:3.11.14-slim-bookworm"],
        image=f"localhost/splatflow-label-test:{os.getpid()}",
    )
    (tmp_path / "marker").write_text("a root file system of one file", encoding="utf-8")
    builder = Builder("podman", podman_environment())
    import_root(tmp_path, stand_in, [builder.cli], builder.environment, label=STAND_IN_LABEL)
    try:
        assert builder.label(stand_in.image, STAND_IN_LABEL) == stand_in.recipe
        assert builder.label(stand_in.image, f"{STAND_IN_LABEL}.differences") == stand_in.differences
    finally:
        builder.run("rmi", stand_in.image)
