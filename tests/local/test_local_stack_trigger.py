"""What ``up`` prints to start a run: the admin password once, on the start that generated it, never after."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from splatflow.local.stack import PASSWORD_FILE, Trigger

SAMPLE = "s3://splatflow-uploads/samples/brighton_beach.zip"


def test_the_first_start_shows_the_generated_password_and_where_it_is_kept(tmp_path: Path) -> None:
    trigger = Trigger("http://localhost:8080", SAMPLE, tmp_path / PASSWORD_FILE, new_password="s3cret-first")

    printed = trigger.instructions(tmp_path / "mail")

    assert f"sign in as admin with the password s3cret-first (kept in {tmp_path / PASSWORD_FILE})" in printed
    assert printed.count("s3cret-first") == 1, "the shell commands read it from its file"


def test_a_later_start_names_the_passwords_file_and_prints_no_password(tmp_path: Path) -> None:
    password_file = tmp_path / PASSWORD_FILE
    password_file.write_text(json.dumps({"admin": "s3cret-kept"}), encoding="utf-8")
    trigger = Trigger("http://localhost:8080", SAMPLE, password_file)

    printed = trigger.instructions(tmp_path / "mail")

    assert "s3cret-kept" not in printed
    assert f"sign in as admin with the password kept in {password_file}." in printed


def test_the_printed_commands_read_the_password_from_its_file(tmp_path: Path) -> None:
    password_file = tmp_path / PASSWORD_FILE
    password_file.write_text(json.dumps({"admin": "s3cret-kept"}), encoding="utf-8")
    first_command = Trigger("http://localhost:8080", SAMPLE, password_file).curl().splitlines()[0]

    shown = subprocess.run(["bash", "-c", f'{first_command}\necho "$PASSWORD"'], capture_output=True, text=True)

    assert shown.stdout.strip() == "s3cret-kept", shown.stderr


def test_the_readmes_first_screen_shows_the_way_to_the_ui_the_run_time_and_view_splat() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    first_screen = readme.split("Other commands:", 1)[0].split("## Three commands on a fresh machine", 1)[1]

    assert "make up     # " in first_screen and "http://localhost:8080" in first_screen
    assert "5 to 11 minutes" in first_screen and "wait for the first's" in first_screen
    assert "**Details** tab, under **Extra Links**" in first_screen
