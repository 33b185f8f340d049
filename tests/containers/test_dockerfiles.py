"""The Dockerfiles build what the runner and SageMaker expect, checked statically in a second.

The images are also built and run under a real engine (``tests/containers/test_stage_images.py``),
which takes minutes; these checks name the usual breakages at once, line by line: a COPY of a
file that moved, a stage module that was renamed, a floating base image, a stage image whose
user cannot write SageMaker's root-owned ``/opt/ml`` folders, an Airflow image running as root,
an image built for the wrong architecture.
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

REPO_ROOT = Path(__file__).resolve().parents[2]
REQUIRED_PLATFORM = "linux/amd64"
ROOT_USERS = {"root", "0"}
MODULE_NAME = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")
SHELL_COMMANDS = {"RUN", "CMD", "ENTRYPOINT", "SHELL"}
LEADING_FLAG = re.compile(r"--([\w-]+)(?:=(\S*))?\s*")
# A local project path (`.` or an absolute folder) followed by the extras it installs.
EXTRA_INSTALL = re.compile(r"""(?:^|[\s"'])(?:\.|/[\w/.-]+)\[([\w,${}-]+)\]""")

# containers/<folder>/Dockerfile -> (the module its entry point runs, the extra it installs)
STAGE_IMAGES = {
    "sfm": ("splatflow.stages.sfm", "sfm"),
    "3dgs": ("splatflow.stages.train", "train"),
    "compressor": ("splatflow.stages.compress", "compress"),
}


@dataclass
class Instruction:
    keyword: str
    flags: dict[str, str]
    arguments: list[str]
    exec_form: bool
    line: int


@dataclass
class Stage:
    """One FROM block of a (possibly multi-stage) Dockerfile."""

    base: Instruction
    alias: str | None
    body: list[Instruction] = field(default_factory=list)

    def last(self, keyword: str) -> Instruction | None:
        found = [item for item in self.body if item.keyword == keyword]
        return found[-1] if found else None


def _instruction(keyword: str, value: str, line: int) -> Instruction:
    # Flags come first in both forms (`COPY --chmod=0755 ["a", "b"]`); the rest may be JSON.
    flags: dict[str, str] = {}
    rest = value.strip()
    while match := LEADING_FLAG.match(rest):
        flags[match.group(1)] = match.group(2) or ""
        rest = rest[match.end() :]
    if rest.startswith("["):
        try:
            parsed = json.loads(rest)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, list) and all(isinstance(item, str) for item in parsed):
            return Instruction(keyword, flags, parsed, True, line)
    if keyword in SHELL_COMMANDS:  # a shell command line stays whole: the shell, not we, splits it
        return Instruction(keyword, flags, [rest], False, line)
    return Instruction(keyword, flags, shlex.split(rest), False, line)


def parse_stages(text: str) -> list[Stage]:
    """The Dockerfile's stages, with each instruction's flags and arguments split out."""
    parser = DockerfileParser(fileobj=io.BytesIO(text.encode()), env_replace=False)
    stages: list[Stage] = []
    for entry in parser.structure:
        if entry["instruction"] == "COMMENT":
            continue
        item = _instruction(entry["instruction"], entry["value"], entry["startline"] + 1)
        if item.keyword == "FROM":
            args = item.arguments
            alias = args[2] if len(args) == 3 and args[1].upper() == "AS" else None
            stages.append(Stage(base=item, alias=alias))
        elif stages:
            stages[-1].body.append(item)
    return stages


def _image_problems(stage: Stage, earlier_aliases: set[str]) -> list[str]:
    line = stage.base.line
    image = stage.base.arguments[0] if stage.base.arguments else ""
    if image in earlier_aliases:
        return []
    name, _, digest = image.partition("@")
    last_part = name.rsplit("/", 1)[-1]
    tag = last_part.partition(":")[2]
    if not tag and not digest:
        return [f"line {line}: base image {image!r} is not pinned by tag"]
    if tag == "latest" and not digest:
        return [f"line {line}: base image {image!r} floats on the 'latest' tag"]
    return []


def _copy_problems(item: Instruction, repo_root: Path) -> list[str]:
    if "from" in item.flags:  # copies from another stage or image, not from the context
        return []
    if len(item.arguments) < 2:
        return [f"line {item.line}: {item.keyword} needs a source and a destination"]
    problems = []
    for source in item.arguments[:-1]:
        if "://" in source:
            problems.append(f"line {item.line}: {item.keyword} fetches {source!r} at build time")
        elif not any(repo_root.glob(source.lstrip("/"))):
            problems.append(f"line {item.line}: {item.keyword} source {source!r} is not in the repository")
    return problems


def entrypoint_module(item: Instruction) -> str | None:
    """The Python module an exec-form ENTRYPOINT runs.

    ``python -m <module> …`` names it after ``-m``; a wrapper script (``<script> <module> …``)
    takes it as its first dotted-name argument.
    """
    args = item.arguments
    if "-m" in args[:-1]:
        return args[args.index("-m") + 1]
    return next((arg for arg in args[1:] if MODULE_NAME.match(arg)), None)


def module_exists(module: str, package_root: Path) -> bool:
    path = package_root.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__main__.py").is_file()


def dockerfile_problems(text: str, repo_root: Path, *, stage_image: bool = True) -> list[str]:
    """Every problem found in a Dockerfile's text, each in one line naming where it is.

    A stage image (``stage_image``) must also be built for linux/amd64, SageMaker's architecture,
    start a splatflow module, and run as root (SageMaker's agent makes ``/opt/ml`` as root and
    expects root containers); the Airflow image keeps its base image's entry point and must not
    run as root.
    """
    stages = parse_stages(text)
    if not stages:
        return ["no FROM instruction"]
    problems: list[str] = []
    aliases: set[str] = set()
    for stage in stages:
        problems += _image_problems(stage, aliases)
        platform = stage.base.flags.get("platform")
        if stage_image and platform != REQUIRED_PLATFORM:
            problems.append(f"line {stage.base.line}: FROM is not built for --platform={REQUIRED_PLATFORM}")
        for item in stage.body:
            if item.keyword in {"COPY", "ADD"}:
                problems += _copy_problems(item, repo_root)
        if stage.alias:
            aliases.add(stage.alias)

    final = stages[-1]
    user = final.last("USER")
    runs_as_root = user is None or user.arguments[0].partition(":")[0] in ROOT_USERS
    if stage_image and not runs_as_root:
        assert user is not None
        problems.append(
            f"line {user.line}: USER {user.arguments[0]} cannot write the /opt/ml folders SageMaker creates as root"
        )
    elif not stage_image and user is None:
        problems.append("the final stage sets no USER, so the container runs as root")
    elif not stage_image and runs_as_root:
        assert user is not None
        problems.append(f"line {user.line}: USER {user.arguments[0]} runs the container as root")

    if stage_image:
        entrypoint = final.last("ENTRYPOINT")
        if entrypoint is None:
            problems.append("the final stage has no ENTRYPOINT")
        elif not entrypoint.exec_form:
            problems.append(f"line {entrypoint.line}: ENTRYPOINT is in shell form; signals would not reach it")
        else:
            module = entrypoint_module(entrypoint)
            if module is None:
                problems.append(f"line {entrypoint.line}: ENTRYPOINT names no Python module")
            elif not module_exists(module, repo_root / "include"):
                problems.append(f"line {entrypoint.line}: ENTRYPOINT module {module!r} is not under include/")
    return problems


def installed_extras(text: str) -> set[str]:
    """The package extras the RUN lines install (``pip install ".[sfm]"``, ``-e "/opt/airflow[local]"``)."""
    extras: set[str] = set()
    for stage in parse_stages(text):
        for item in stage.body:
            if item.keyword == "RUN":
                for match in EXTRA_INSTALL.finditer(" ".join(item.arguments)):
                    extras.update(match.group(1).split(","))
    return extras


def _read(relative: str) -> str:
    return (REPO_ROOT / relative).read_text(encoding="utf-8")


# --- the checker itself ---------------------------------------------------------------------------

BROKEN_DOCKERFILE = """\
FROM python AS build
FROM ubuntu:latest
COPY --from=build /opt/venv /opt/venv
COPY include/no_such_file.py /app/
ADD https://example.invalid/tool.tar.gz /opt/
USER app
ENTRYPOINT ["python", "-m", "splatflow.stages.no_such_stage"]
"""


def test_checker_reports_each_problem_of_a_broken_dockerfile() -> None:
    problems = dockerfile_problems(BROKEN_DOCKERFILE, REPO_ROOT)

    expected = [
        "line 1: base image 'python' is not pinned by tag",
        "line 1: FROM is not built for --platform=linux/amd64",
        "line 2: base image 'ubuntu:latest' floats on the 'latest' tag",
        "line 2: FROM is not built for --platform=linux/amd64",
        "line 4: COPY source 'include/no_such_file.py' is not in the repository",
        "line 5: ADD fetches 'https://example.invalid/tool.tar.gz' at build time",
        "line 6: USER app cannot write the /opt/ml folders SageMaker creates as root",
        "line 7: ENTRYPOINT module 'splatflow.stages.no_such_stage' is not under include/",
    ]
    assert problems == expected


@pytest.mark.parametrize(
    ("tail", "problem"),
    [
        ("", "the final stage sets no USER, so the container runs as root"),
        ("USER 0:0\n", "line 2: USER 0:0 runs the container as root"),
    ],
)
def test_checker_requires_a_non_root_user_for_the_airflow_image(tail: str, problem: str) -> None:
    text = "FROM --platform=linux/amd64 python:3.11.14-slim\n" + tail
    assert problem in dockerfile_problems(text, REPO_ROOT, stage_image=False)


@pytest.mark.parametrize(
    ("entrypoint", "problem"),
    [
        ("python -m splatflow.stages.contract", "line 3: ENTRYPOINT is in shell form"),
        ('["/bin/run-everything"]', "line 3: ENTRYPOINT names no Python module"),
        (None, "the final stage has no ENTRYPOINT"),
    ],
)
def test_checker_requires_an_exec_form_entrypoint_naming_a_module(entrypoint: str | None, problem: str) -> None:
    text = "FROM --platform=linux/amd64 python:3.11.14-slim\nUSER root\n"
    if entrypoint is not None:
        text += f"ENTRYPOINT {entrypoint}\n"
    assert any(found.startswith(problem) for found in dockerfile_problems(text, REPO_ROOT))


def test_checker_accepts_pinned_multi_stage_images_and_known_modules() -> None:
    text = (
        "FROM --platform=linux/amd64 nvidia/cuda:13.0.2-devel-ubuntu24.04 AS build\n"
        "COPY pyproject.toml include/ ./\n"
        "FROM --platform=linux/amd64 python:3.11.14-slim@sha256:" + "0" * 64 + "\n"
        "COPY --from=build /opt/venv /opt/venv\n"
        'ENTRYPOINT ["python", "-m", "splatflow.stages.contract"]\n'
    )
    assert dockerfile_problems(text, REPO_ROOT) == []


# --- the project's Dockerfiles --------------------------------------------------------------------


def test_every_stage_folder_has_exactly_one_dockerfile() -> None:
    folders = sorted(path.name for path in (REPO_ROOT / "containers").iterdir() if path.is_dir())
    assert folders == sorted(STAGE_IMAGES)
    for folder in folders:
        assert [p.name for p in (REPO_ROOT / "containers" / folder).glob("*Dockerfile*")] == ["Dockerfile"]


@pytest.mark.parametrize("folder", sorted(STAGE_IMAGES))
def test_stage_dockerfile_passes_the_checks(folder: str) -> None:
    assert dockerfile_problems(_read(f"containers/{folder}/Dockerfile"), REPO_ROOT) == []


@pytest.mark.parametrize("folder", sorted(STAGE_IMAGES))
def test_stage_image_runs_its_stage_module_and_installs_its_extra(folder: str) -> None:
    module, extra = STAGE_IMAGES[folder]
    text = _read(f"containers/{folder}/Dockerfile")
    entrypoint = parse_stages(text)[-1].last("ENTRYPOINT")

    assert entrypoint is not None
    assert entrypoint_module(entrypoint) == module
    assert installed_extras(text) == {extra}


def test_airflow_image_passes_the_checks_and_installs_the_local_extra() -> None:
    text = _read("Dockerfile")
    stages = parse_stages(text)

    assert dockerfile_problems(text, REPO_ROOT, stage_image=False) == []
    assert stages[-1].base.arguments[0] == "apache/airflow:3.3.2-python3.11"
    build_args = {item.arguments[0].partition("=")[0]: item for s in stages for item in s.body if item.keyword == "ARG"}
    assert build_args["SPLATFLOW_EXTRAS"].arguments[0] == "SPLATFLOW_EXTRAS=local"
    assert installed_extras(text) == {"${SPLATFLOW_EXTRAS}"}


def test_3dgs_image_compiles_gsplat_for_the_t4() -> None:
    env = {
        word.partition("=")[0]: word.partition("=")[2]
        for stage in parse_stages(_read("containers/3dgs/Dockerfile"))
        for item in stage.body
        if item.keyword == "ENV"
        for word in item.arguments
    }
    assert "7.5" in env["TORCH_CUDA_ARCH_LIST"].replace("+PTX", "").split(";")


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["train"], ["-m", "splatflow.stages.train"]),
        (["train", "--steps", "7"], ["-m", "splatflow.stages.train", "--steps", "7"]),
        (["--steps", "train"], ["-m", "splatflow.stages.train", "--steps", "train"]),
        ([], ["-m", "splatflow.stages.train"]),
    ],
)
def test_3dgs_entrypoint_drops_the_train_argument_sagemaker_appends(
    tmp_path: Path, arguments: list[str], expected: list[str]
) -> None:
    fake_python = tmp_path / "python"
    fake_python.write_text('#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n', encoding="utf-8")
    fake_python.chmod(0o755)
    script = REPO_ROOT / "containers" / "3dgs" / "entrypoint.sh"

    result = subprocess.run(
        ["sh", str(script), "splatflow.stages.train", *arguments],
        env={**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        check=True,
    )

    assert result.stdout.splitlines() == expected
