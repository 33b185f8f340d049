"""The container contract on the stage's side: failure file, exit codes, atomic outputs and progress lines."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from splatflow.contract.failures import FailureCode, parse_failure_reason
from splatflow.stages.harness import (
    EXIT_INTERNAL_ERROR,
    EXIT_OK,
    EXIT_STAGE_FAILED,
    Progress,
    staged_output,
)

STAGE = textwrap.dedent(
    """
    import sys
    from splatflow.stages.harness import FailureCode, StageError, run_stage

    def main(paths):
        mode = sys.argv[1]
        (paths.output / "marker").parent.mkdir(parents=True, exist_ok=True)
        if mode == "fail":
            raise StageError(FailureCode.NO_OVERLAP, "2 of 40 photos\\ncould be matched")
        if mode == "crash":
            raise KeyError("cameras")
        if mode == "memory":
            raise MemoryError()

    run_stage("demo", main)
    """
)


def _run(tmp_path: Path, mode: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "stage.py"
    script.write_text(STAGE)
    return subprocess.run(
        [sys.executable, str(script), mode],
        env={"SPLATFLOW_ML_ROOT": str(tmp_path / "ml"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )


def test_success_exits_zero_and_clears_an_old_failure_file(tmp_path: Path) -> None:
    failure = tmp_path / "ml" / "output" / "failure"
    failure.parent.mkdir(parents=True)
    failure.write_text("from a previous attempt")
    result = _run(tmp_path, "ok")
    assert result.returncode == EXIT_OK, result.stderr
    assert not failure.exists()


def test_stage_error_becomes_a_one_line_reason_with_its_code_and_exit_one(tmp_path: Path) -> None:
    result = _run(tmp_path, "fail")
    assert result.returncode == EXIT_STAGE_FAILED
    reason = (tmp_path / "ml" / "output" / "failure").read_text()
    assert reason == "demo: NO_OVERLAP: 2 of 40 photos could be matched\n"
    failure = parse_failure_reason(reason)
    assert failure is not None and failure.code is FailureCode.NO_OVERLAP


def test_a_crash_names_the_exception_and_keeps_the_trace_on_stderr(tmp_path: Path) -> None:
    result = _run(tmp_path, "crash")
    assert result.returncode == EXIT_INTERNAL_ERROR
    reason = (tmp_path / "ml" / "output" / "failure").read_text()
    assert reason == "demo: INTERNAL: KeyError: 'cameras'\n"
    assert "Traceback" in result.stderr


def test_running_out_of_memory_has_its_own_code(tmp_path: Path) -> None:
    result = _run(tmp_path, "memory")
    assert result.returncode == EXIT_INTERNAL_ERROR
    failure = parse_failure_reason((tmp_path / "ml" / "output" / "failure").read_text())
    assert failure is not None and (failure.step, failure.code) == ("demo", FailureCode.OUT_OF_MEMORY)


def test_staged_output_publishes_only_on_success(tmp_path: Path) -> None:
    final = tmp_path / "model"
    with pytest.raises(RuntimeError), staged_output(final) as staging:
        (staging / "splat.ply").write_text("half")
        raise RuntimeError("training diverged")
    assert list(final.iterdir()) == []

    with staged_output(final) as staging:
        (staging / "splat.ply").write_text("whole")
        (staging / "previews").mkdir()
    assert sorted(p.name for p in final.iterdir()) == ["previews", "splat.ply"]
    assert (final / "splat.ply").read_text() == "whole"


def test_progress_lines_report_count_eta_and_fields(caplog: pytest.LogCaptureFixture) -> None:
    progress = Progress("sfm", "extract", total=4, every_seconds=3600)
    with caplog.at_level(logging.INFO, logger="splatflow.stages"):
        progress.advance()
        progress.advance(2)
        progress.advance(1, photo="IMG_1.JPG")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, "rate-limited: the first line and the last"
    assert lines[0].startswith("[sfm] extract 1/4 eta=")
    assert lines[1].startswith("[sfm] extract 4/4 elapsed=") and lines[1].endswith("photo=IMG_1.JPG")


def test_a_stage_whose_library_is_missing_fails_with_the_reason_in_the_failure_file(tmp_path: Path) -> None:
    # What an image built without one of its stage's libraries does: the import fails inside the
    # contract, so the job's FailureReason names the missing module.
    (tmp_path / "needs_a_library.py").write_text("import no_such_library\n\ndef main(paths):\n    pass\n")
    script = tmp_path / "entry.py"
    script.write_text(
        'from splatflow.stages.harness import run_stage_module\nrun_stage_module("demo", "needs_a_library")\n'
    )

    result = subprocess.run(
        [sys.executable, str(script)],
        env={"SPLATFLOW_ML_ROOT": str(tmp_path / "ml"), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == EXIT_INTERNAL_ERROR
    failure = (tmp_path / "ml" / "output" / "failure").read_text()
    assert failure == "demo: INTERNAL: ModuleNotFoundError: No module named 'no_such_library'\n"
