"""The host's pip configuration, carried into image builds."""

from __future__ import annotations

from pathlib import Path

from splatflow.local.containers.pip_config import CONTAINER_PIP_CONF, build_mounts, parse_pip_config_list


def test_environment_variables_win_over_files_and_only_connection_settings_travel(tmp_path: Path) -> None:
    listing = (
        ":env:.cert='/env/ca.crt'\n"
        "global.cert='/etc/ssl/certs/ca-certificates.crt'\n"
        "global.find-links='/opt/wheels'\n"
        "global.extra-index-url='file:///opt/pypi/simple file:///opt/pypi-more/simple'\n"
        "global.no-binary=':all:'\n"
        "install.user='true'\n"
    )
    config = parse_pip_config_list(listing)

    assert config.settings == {
        "cert": "/env/ca.crt",
        "find-links": "/opt/wheels",
        "extra-index-url": "file:///opt/pypi/simple file:///opt/pypi-more/simple",
    }


def test_local_indexes_are_mounted_from_their_root_since_their_pages_link_up_to_files(tmp_path: Path) -> None:
    index = tmp_path / "pypi" / "simple"
    index.mkdir(parents=True)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    certificate = tmp_path / "ca.crt"
    certificate.write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    config = parse_pip_config_list(
        f"global.extra-index-url='https://mirror.example/simple file://{index}'\n"
        f"global.find-links='{wheels}'\n"
        f"global.cert='{certificate}'\n"
        "global.constraint='/no/such/file.txt'\n"
    )

    assert config.local_paths == [tmp_path / "pypi", wheels, certificate]


def test_build_mounts_carry_the_merged_config_and_each_local_path_read_only(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    config = parse_pip_config_list(f"global.find-links='{wheels}'\nglobal.timeout='60'\n")
    pip_conf = tmp_path / "pip.conf"

    mounts = build_mounts(config, pip_conf)

    assert mounts == ["-v", f"{pip_conf}:{CONTAINER_PIP_CONF}:ro", "-v", f"{wheels}:{wheels}:ro"]
    assert pip_conf.read_text(encoding="utf-8") == f"[global]\nfind-links = {wheels}\ntimeout = 60\n"
