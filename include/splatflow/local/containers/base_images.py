"""The base images the stage Dockerfiles start from: present, pulled, or stood in from Debian's packages.

Where the registry answers, the real base is pulled. Where it cannot be reached (CI machines
that reach only PyPI and Debian's archive), a stand-in is built with ``debootstrap`` and
tagged with the upstream name, so the Dockerfiles stay exactly what production builds. Each
stand-in says what it differs in; the README repeats it.
"""

from __future__ import annotations

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
            packages=("python3", "python3-venv", "ca-certificates", "netbase", "tzdata"),
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
_ARG = re.compile(r"^\s*ARG\s+(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:=(?P<default>\S*))?", re.IGNORECASE)
_VARIABLE = re.compile(r"\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)")


def base_images(dockerfile: str, build_args: Mapping[str, str] | None = None) -> list[str]:
    """The external images a Dockerfile's ``FROM`` lines name, fully qualified, in order.

    ``ARG`` values before a ``FROM`` (their defaults, or ``build_args``) are substituted, as
    the builder does; a ``FROM`` naming an earlier stage is not an external image.
    """
    arguments: dict[str, str] = {}
    stages: set[str] = set()
    images: list[str] = []
    for line in dockerfile.splitlines():
        argument = _ARG.match(line)
        if argument and not stages:
            name = argument["name"]
            arguments[name] = (build_args or {}).get(name, argument["default"] or "")
            continue
        found = _FROM.match(line)
        if not found:
            continue
        image = _VARIABLE.sub(lambda m: arguments.get(m["braced"] or m["bare"], ""), found["image"])
        if image.lower() not in stages and image != "scratch":
            reference = qualified(image)
            if reference not in images:
                images.append(reference)
        if found["alias"]:
            stages.add(found["alias"].lower())
    return images


def debian_mirror() -> str:
    return os.environ.get(DEBIAN_MIRROR_ENV) or DEFAULT_DEBIAN_MIRROR


def build_stand_in(stand_in: StandIn, engine_cli: list[str], environment: Mapping[str, str], label: str) -> None:
    """``debootstrap`` the stand-in's root filesystem and import it under the upstream name.

    The image carries ``label`` with what it differs in, so a later build reports it as a stand-in.
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
        instructions = [*stand_in.changes, f"LABEL {label}={json.dumps(stand_in.differences)}"]
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
