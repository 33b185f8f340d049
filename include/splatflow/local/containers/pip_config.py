"""The host's pip configuration, carried into image builds so pip reaches the index as the host does.

A machine behind an intercepting proxy or with a local mirror (its own certificate authority,
``find-links`` folders, ``file://`` indexes) configures pip once, in its config files and
``PIP_*`` variables. A build that ignores that cannot install anything there. Podman mounts
what the configuration names into each build step, read-only and only for the build, so no
host setting ends up in an image layer.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

CARRIED_KEYS = (
    "index-url",
    "extra-index-url",
    "find-links",
    "trusted-host",
    "cert",
    "client-cert",
    "constraint",
    "proxy",
    "timeout",
    "default-timeout",
    "retries",
)
"""What decides where pip finds packages and how it connects; nothing about what gets installed."""

PATH_KEYS = ("cert", "client-cert", "constraint")
LOCATION_KEYS = ("index-url", "extra-index-url", "find-links")

CONTAINER_PIP_CONF = "/etc/pip.conf"
"""pip's site-wide configuration file on Linux, read by every pip in the build, virtualenvs' too."""

_LINE = re.compile(r"^(?P<scope>[^.\s]*)\.(?P<key>[a-z0-9-]+)=(?P<value>.+)$")


@dataclass(frozen=True)
class HostPipConfig:
    settings: dict[str, str]
    """pip option -> value, the host's effective ``[global]`` settings."""

    @property
    def local_paths(self) -> list[Path]:
        """The host files and folders the settings name, which a build must see at the same paths."""
        paths: list[Path] = []
        for key, value in self.settings.items():
            if key in PATH_KEYS:
                candidates = [value]
            elif key in LOCATION_KEYS:
                candidates = [_local_root(key, token) for token in value.split() if _is_local(token)]
            else:
                continue
            for candidate in candidates:
                path = Path(candidate)
                if path.exists() and path not in paths:
                    paths.append(path)
        return paths

    def pip_conf(self) -> str:
        lines = ["[global]", *(f"{key} = {value}" for key, value in sorted(self.settings.items()))]
        return "\n".join(lines) + "\n"


def _is_local(location: str) -> bool:
    return location.startswith("file://") or location.startswith("/")


def _local_root(key: str, location: str) -> str:
    """The folder a local location needs mounted: an index's parent, since its pages link up to files beside it.

    A PEP 503 index folder (``<root>/simple/<project>/index.html``) may link to ``../../files/…``;
    a ``find-links`` folder holds the files themselves.
    """
    path = location.removeprefix("file://").rstrip("/")
    return str(Path(path).parent) if key.endswith("index-url") else path


def parse_pip_config_list(output: str) -> HostPipConfig:
    """Parse ``pip config list``: environment variables (``:env:``) win over files, as in pip."""
    from_files: dict[str, str] = {}
    from_environment: dict[str, str] = {}
    for line in output.splitlines():
        found = _LINE.match(line.strip())
        if not found or found["key"] not in CARRIED_KEYS:
            continue
        value = ast.literal_eval(found["value"])
        if not isinstance(value, str):
            continue
        target = from_environment if found["scope"] == ":env:" else from_files
        target[found["key"]] = value
    return HostPipConfig({**from_files, **from_environment})


def host_pip_config(python: str = sys.executable) -> HostPipConfig:
    result = subprocess.run([python, "-m", "pip", "config", "list"], capture_output=True, text=True, check=True)
    return parse_pip_config_list(result.stdout)


def build_mounts(config: HostPipConfig, pip_conf_file: Path) -> list[str]:
    """``podman build -v`` arguments: the merged pip.conf and every local path it names, read-only."""
    pip_conf_file.write_text(config.pip_conf(), encoding="utf-8")
    mounts = ["-v", f"{pip_conf_file.resolve()}:{CONTAINER_PIP_CONF}:ro"]
    for path in config.local_paths:
        mounts += ["-v", f"{path}:{path}:ro"]
    return mounts
