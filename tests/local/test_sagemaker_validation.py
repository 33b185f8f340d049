"""Malformed requests are refused the way AWS refuses them, even from a client that checks nothing."""

from __future__ import annotations

import copy
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError
from runner_support import BUCKET, processing_request, sagemaker_client, training_request, unique

from splatflow.local.runtime import EmbeddedRuntime
from splatflow.local.sagemaker.validation import compile_pattern, validation_problems

MODEL = botocore.session.get_session().get_service_model("sagemaker")


@pytest.fixture
def unchecked_sagemaker(runtime: EmbeddedRuntime) -> Any:
    """A client with botocore's own parameter validation off: only the runner stands guard."""
    assert runtime.runner is not None
    return sagemaker_client(runtime.runner.url, validate=False)


def _processing() -> dict[str, Any]:
    return processing_request(unique("v"), ["--mode", "copy"], f"s3://{BUCKET}/in/", f"s3://{BUCKET}/out")


def _drop_s3_uri(r: dict[str, Any]) -> None:
    del r["ProcessingInputs"][0]["S3Input"]["S3Uri"]


def _misspell_data_type(r: dict[str, Any]) -> None:
    r["ProcessingInputs"][0]["S3Input"]["S3DataType"] = "S3prefix"


def _bad_name(r: dict[str, Any]) -> None:
    r["ProcessingJobName"] = "my_job!"


def _zero_instances(r: dict[str, Any]) -> None:
    r["ProcessingResources"]["ClusterConfig"]["InstanceCount"] = 0


def _string_volume(r: dict[str, Any]) -> None:
    r["ProcessingResources"]["ClusterConfig"]["VolumeSizeInGB"] = "30"


def _short_role(r: dict[str, Any]) -> None:
    r["RoleArn"] = "splatflow-role"


def _too_many_inputs(r: dict[str, Any]) -> None:
    r["ProcessingInputs"] = r["ProcessingInputs"] * 11


def _no_app_specification(r: dict[str, Any]) -> None:
    del r["AppSpecification"]


MALFORMED: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "S3Input without S3Uri": (
        _drop_s3_uri,
        "processingInputs.1.member.s3Input.s3Uri' failed to satisfy constraint: Member must not be null",
    ),
    "S3DataType misspelt": (_misspell_data_type, "Member must satisfy enum value set: [ManifestFile, S3Prefix]"),
    "job name with forbidden characters": (
        _bad_name,
        "at 'processingJobName' failed to satisfy constraint: Member must satisfy regular expression pattern",
    ),
    "zero instances": (_zero_instances, "Member must have value greater than or equal to 1"),
    "volume size as a string": (_string_volume, "Member must be an integer"),
    "role that is not an ARN": (
        _short_role,
        "at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20",
    ),
    "more inputs than allowed": (_too_many_inputs, "Member must have length less than or equal to 10"),
    "missing required structure": (_no_app_specification, "Value null at 'appSpecification'"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_processing_request_is_a_validation_exception(unchecked_sagemaker: Any, case: str) -> None:
    mutate, expected = MALFORMED[case]
    request = _processing()
    mutate(request)

    with pytest.raises(ClientError) as refused:
        unchecked_sagemaker.create_processing_job(**request)

    error = refused.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert expected in error["Message"]
    with pytest.raises(ClientError) as never_created:
        unchecked_sagemaker.describe_processing_job(ProcessingJobName=request["ProcessingJobName"])
    assert never_created.value.response["Error"]["Code"] == "ValidationException"


def _post(runtime: EmbeddedRuntime, target: str, body: bytes) -> tuple[int, dict[str, Any]]:
    assert runtime.runner is not None
    request = urllib.request.Request(runtime.runner.url, data=body, method="POST", headers={"X-Amz-Target": target})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_unknown_members_and_bad_bodies_are_refused_on_the_wire(runtime: EmbeddedRuntime) -> None:
    request = _processing()
    request["AppSpecification"]["Entrypoint"] = ["python"]
    status, body = _post(runtime, "SageMaker.CreateProcessingJob", json.dumps(request).encode())
    assert (status, body["__type"]) == (400, "ValidationException")
    assert "Unknown parameter 'appSpecification.entrypoint'" in body["message"]

    status, body = _post(runtime, "SageMaker.CreateProcessingJob", b"{not json")
    assert (status, body["__type"]) == (400, "ValidationException")

    status, body = _post(runtime, "SageMaker.DeleteEverything", b"{}")
    assert (status, body["__type"]) == (400, "UnknownOperationException")


def test_every_problem_is_reported_at_once(unchecked_sagemaker: Any) -> None:
    request = _processing()
    _drop_s3_uri(request)
    _misspell_data_type(request)
    _zero_instances(request)
    with pytest.raises(ClientError) as refused:
        unchecked_sagemaker.create_processing_job(**request)
    assert refused.value.response["Error"]["Message"].startswith("3 validation errors detected: ")


def test_training_request_without_output_config_is_refused(unchecked_sagemaker: Any) -> None:
    request = training_request(unique("t"), {"mode": "copy"}, f"s3://{BUCKET}/sfm", f"s3://{BUCKET}/m")
    del request["OutputDataConfig"]
    with pytest.raises(ClientError) as refused:
        unchecked_sagemaker.create_training_job(**request)
    assert "Value null at 'outputDataConfig'" in refused.value.response["Error"]["Message"]


def test_an_output_compression_other_than_gzip_or_none_is_refused(unchecked_sagemaker: Any) -> None:
    request = training_request(unique("t"), {"mode": "copy"}, f"s3://{BUCKET}/sfm", f"s3://{BUCKET}/m")
    request["OutputDataConfig"]["CompressionType"] = "ZIP"
    with pytest.raises(ClientError) as refused:
        unchecked_sagemaker.create_training_job(**request)
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "Member must satisfy enum value set: [GZIP, NONE]" in refused.value.response["Error"]["Message"]


def test_hyperparameter_values_must_be_strings(unchecked_sagemaker: Any) -> None:
    request = training_request(unique("t"), {"mode": "copy"}, f"s3://{BUCKET}/sfm", f"s3://{BUCKET}/m")
    request["HyperParameters"] = {"max_steps": 30000}
    with pytest.raises(ClientError) as refused:
        unchecked_sagemaker.create_training_job(**request)
    assert "hyperParameters.max_steps.value" in refused.value.response["Error"]["Message"]


def test_a_valid_request_has_no_problems() -> None:
    request = copy.deepcopy(_processing())
    assert validation_problems(MODEL.operation_model("CreateProcessingJob"), request) == []


def test_every_pattern_in_the_sagemaker_model_compiles() -> None:
    patterns = {
        MODEL.shape_for(name).metadata["pattern"]
        for name in MODEL.shape_names
        if "pattern" in MODEL.shape_for(name).metadata
    }
    assert len(patterns) > 20
    for pattern in patterns:
        compile_pattern(pattern)


def test_supplementary_characters_match_javas_surrogate_pair_ranges() -> None:
    pattern = "[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\t]*"
    assert compile_pattern(pattern).fullmatch("photos 📷 ok") is not None
    assert compile_pattern(pattern).fullmatch("bell\x07") is None
