"""The base images the stage Dockerfiles start from: present, pulled, or stood in from Debian's packages.

Where the registry answers, the real base is pulled. Where it cannot be reached (CI machines
that reach only PyPI and Debian's archive), a stand-in is built with ``debootstrap`` and
tagged with the upstream name, so the Dockerfiles stay exactly what production builds. Each
stand-in says what it differs in; the README repeats it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

DEBIAN_MIRROR_ENV = "SPLATFLOW_DEBIAN_MIRROR"
DEFAULT_DEBIAN_MIRROR = "http://deb.debian.org/debian"

Provenance = Literal["present", "pulled", "stand-in"]


class BaseImageError(RuntimeError):
    """A base image is neither present, nor pullable, nor one we can stand in for."""


@dataclass(frozen=True)
class StandIn:
    """How to build a stand-in for one upstream base image from Debian's packages."""

    image: str
    """The upstream name it is tagged with, fully qualified."""
    suite: str
    packages: tuple[str, ...]
    links: tuple[tuple[str, str], ...]
    """(path, target) symlinks the upstream image has and Debian's packages do not make."""
    changes: tuple[str, ...]
    """Dockerfile instructions for the image config (``ENV``, ``CMD``), as ``docker import --change`` takes them."""
    differences: str
    """What the stand-in differs in from the upstream image, for the build log and the README."""

    @property
    def recipe(self) -> str:
        """A digest of how it is built: a stand-in built from an older recipe is built again."""
        fields = (self.suite, self.packages, self.links, self.changes)
        return hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:16]


DEBIAN_SOURCES = """\
Types: deb
URIs: http://deb.debian.org/debian
Suites: {suite} {suite}-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: {suite}-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""
"""The apt sources Docker's official Debian-based images carry."""

STAND_INS: dict[str, StandIn] = {
    stand_in.image: stand_in
    for stand_in in (
        StandIn(
            image="docker.io/library/python:3.11.14-slim-bookworm",
            suite="bookworm",
            # python3-dev: the upstream image carries Python's headers, which extension builds need.
            packages=("python3", "python3-venv", "python3-dev", "ca-certificates", "netbase", "tzdata"),
            links=(("/usr/local/bin/python", "/usr/bin/python3"), ("/usr/local/bin/python3", "/usr/bin/python3")),
            changes=(
                "ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
                "ENV LANG=C.UTF-8",
                'CMD ["python3"]',
            ),
            differences=(
                "Debian bookworm's own Python 3.11.2 (/usr/bin/python3, linked from /usr/local/bin) instead of "
                "CPython 3.11.14 built from source in /usr/local; no pip outside a virtualenv; apt lists removed "
                "as upstream does"
            ),
        ),
    )
}


def qualified(reference: str) -> str:
    """``python:3.11`` -> ``docker.io/library/python:3.11``, as Docker and Podman resolve short names."""
    first, _, rest = reference.partition("/")
    if not rest:
        return f"docker.io/library/{reference}"
    if "." not in first and ":" not in first and first != "localhost":
        return f"docker.io/{reference}"
    return reference


_FROM = re.compile(r"^\s*FROM\s+(?:--platform=\S+\s+)?(?P<image>\S+)(?:\s+AS\s+(?P<alias>\S+))?", re.IGNORECASE)
_COPY_FROM = re.compile(r"^\s*(?:COPY|ADD)\s+(?:--\S+\s+)*?--from=(?P<source>\S+)", re.IGNORECASE)
_ARG = re.compile(r"^\s*ARG\s+(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:=(?P<default>\S*))?", re.IGNORECASE)
_VARIABLE = re.compile(r"\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)")


@dataclass
class _Stage:
    base: str
    alias: str | None
    sources: list[str]
    """What its ``COPY --from`` lines name: earlier stages, or images."""


def _stages(dockerfile: str, build_args: Mapping[str, str]) -> list[_Stage]:
    """The Dockerfile's stages, with global ``ARG`` values substituted as the builder does."""
    arguments: dict[str, str] = {}
    stages: list[_Stage] = []

    def substitute(text: str) -> str:
        return _VARIABLE.sub(lambda m: arguments.get(m["braced"] or m["bare"], ""), text)

    for line in dockerfile.splitlines():
        argument = _ARG.match(line)
        if argument and not stages:
            arguments[argument["name"]] = build_args.get(argument["name"], argument["default"] or "")
        elif found := _FROM.match(line):
            alias = found["alias"].lower() if found["alias"] else None
            stages.append(_Stage(substitute(found["image"]), alias, []))
        elif (copied := _COPY_FROM.match(line)) and stages:
            stages[-1].sources.append(substitute(copied["source"]))
    return stages


def base_images(dockerfile: str, build_args: Mapping[str, str] | None = None) -> list[str]:
    """The external images the final stage needs, fully qualified, in the order the file names them.

    Like the builder, it follows the final stage back through its ``FROM`` and ``COPY --from``
    references, so a stage a build argument leaves unused (the CUDA variant's, in a CPU build)
    needs no base image.
    """
    stages = _stages(dockerfile, build_args or {})
    if not stages:
        return []
    by_name = {stage.alias: index for index, stage in enumerate(stages) if stage.alias}
    by_name |= {str(index): index for index in range(len(stages))}
    needed: set[str] = set()
    visited: set[int] = set()
    pending = [len(stages) - 1]
    while pending:
        index = pending.pop()
        if index in visited:
            continue
        visited.add(index)
        for reference in (stages[index].base, *stages[index].sources):
            earlier = by_name.get(reference.lower())
            if earlier is not None and earlier < index:
                pending.append(earlier)
            elif reference != "scratch":
                needed.add(qualified(reference))
    ordered = [qualified(stage.base) for stage in stages] + [qualified(s) for stage in stages for s in stage.sources]
    return [image for image in dict.fromkeys(ordered) if image in needed]


def debian_mirror() -> str:
    return os.environ.get(DEBIAN_MIRROR_ENV) or DEFAULT_DEBIAN_MIRROR


def build_stand_in(stand_in: StandIn, engine_cli: list[str], environment: Mapping[str, str], label: str) -> None:
    """``debootstrap`` the stand-in's root filesystem and import it under the upstream name.

    The image carries ``label`` with its recipe digest, so a later build knows it for a stand-in
    and rebuilds it when the recipe changed, and ``<label>.differences`` with what it differs in.
    """
    if shutil.which("debootstrap") is None:
        raise BaseImageError(f"{stand_in.image} cannot be pulled and `debootstrap` is not installed to stand in for it")
    log.info("building a stand-in for %s from Debian %s (%s)", stand_in.image, stand_in.suite, stand_in.differences)
    with tempfile.TemporaryDirectory(prefix="splatflow-rootfs-") as folder:
        root = Path(folder) / "rootfs"
        subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(stand_in.packages)}",
                stand_in.suite,
                str(root),
                debian_mirror(),
            ],
            check=True,
            capture_output=True,
        )
        for path, target in stand_in.links:
            link = root / path.lstrip("/")
            link.parent.mkdir(parents=True, exist_ok=True)
            link.unlink(missing_ok=True)
            link.symlink_to(target)
        sources = root / "etc" / "apt" / "sources.list.d" / "debian.sources"
        sources.write_text(DEBIAN_SOURCES.format(suite=stand_in.suite), encoding="utf-8")
        (root / "etc" / "apt" / "sources.list").unlink(missing_ok=True)
        for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for item in (root / cache).glob("*"):
                if item.is_file():
                    item.unlink()
        import_root(root, stand_in, engine_cli, environment, label)


def import_root(
    root: Path, stand_in: StandIn, engine_cli: list[str], environment: Mapping[str, str], label: str
) -> None:
    """Import a root filesystem as the stand-in's image, with its config and its two labels."""
    # One label per LABEL: Podman 4.3's import reads the rest of a LABEL line as one value, so a
    # second label on the line would end up inside the recipe's and the stand-in be rebuilt each time.
    labels = [f"LABEL {label}={stand_in.recipe}", f"LABEL {label}.differences={json.dumps(stand_in.differences)}"]
    instructions = [*stand_in.changes, *labels]
    changes = [argument for change in instructions for argument in ("--change", change)]
    tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
    try:
        subprocess.run(
            [*engine_cli, "import", *changes, "-", stand_in.image],
            stdin=tar.stdout,
            check=True,
            capture_output=True,
            env=dict(environment),
        )
    finally:
        if tar.stdout is not None:
            tar.stdout.close()
        tar.wait()
