"""The failure line a step leaves (``<step>: <CODE>: <words>``) and the codes it carries."""

from __future__ import annotations

import pytest

from splatflow.contract.failures import (
    FAILURE_REASON_MAX_CHARS,
    FailureCode,
    StepFailure,
    format_failure_reason,
    one_line,
    parse_failure_reason,
)


@pytest.mark.parametrize("code", list(FailureCode))
def test_every_code_round_trips_through_the_failure_line(code: FailureCode) -> None:
    line = format_failure_reason("sfm", code, "only 3 of 40 photos could be placed: the photos may not overlap")
    assert parse_failure_reason(line) == StepFailure(
        "sfm", code, "only 3 of 40 photos could be placed: the photos may not overlap"
    )
    assert str(parse_failure_reason(line)) == line


@pytest.mark.parametrize(
    "reason",
    [
        "AlgorithmError: train: NO_GPU: the hyperparameters demand a CUDA GPU, exit code: 1",
        "train: NO_GPU: the hyperparameters demand a CUDA GPU",
        "  train: NO_GPU: the hyperparameters demand a CUDA GPU\n",
    ],
)
def test_the_line_is_read_back_from_sagemakers_failure_reason(reason: str) -> None:
    assert parse_failure_reason(reason) == StepFailure(
        "train", FailureCode.NO_GPU, "the hyperparameters demand a CUDA GPU"
    )


@pytest.mark.parametrize(
    "reason",
    [
        None,
        "",
        "CapacityError: Unable to provision requested ML compute capacity",
        "ClientError: No S3 objects found under S3 URL s3://b/k.zip",
        "sfm: NOT_A_CODE: something",
        "sfm: the photos may not overlap",
        "The job exceeded its MaxRuntimeInSeconds (3600 s) and was stopped",
    ],
)
def test_text_that_is_not_a_steps_failure_line_has_no_code(reason: str | None) -> None:
    assert parse_failure_reason(reason) is None


def test_a_long_message_keeps_the_line_within_sagemakers_limit_and_its_code_readable() -> None:
    line = format_failure_reason("compress", FailureCode.QUALITY_CHECK, "the render lost detail\n" * 200)
    assert len(line) == FAILURE_REASON_MAX_CHARS and "\n" not in line
    failure = parse_failure_reason(line)
    assert failure is not None and failure.code is FailureCode.QUALITY_CHECK


def test_one_line_flattens_and_bounds_the_reason() -> None:
    assert one_line("a\n  b\tc") == "a b c"
    assert len(one_line("x" * 5000)) == FAILURE_REASON_MAX_CHARS


def test_only_transient_and_unexpected_failures_are_worth_another_try() -> None:
    retried = {code for code in FailureCode if code.retry_may_help}
    assert retried == {FailureCode.TIME_LIMIT, FailureCode.SERVICE_INTERRUPTED, FailureCode.INTERNAL}
