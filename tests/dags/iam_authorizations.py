"""What IAM must allow for each recorded AWS call: actions, resource ARNs and condition keys.

One API call is one or more authorizations on AWS. Most are the call itself (``HeadObject`` is
``s3:GetObject`` on the object); some are done by AWS on the caller's behalf and are derived from
what the call carried or got back:

- an S3 write with ``SSEKMSKeyId`` is also ``kms:GenerateDataKey`` by the caller, through S3;
  reading an object S3 reports as ``aws:kms`` is also ``kms:Decrypt``;
- ``Create*Job`` passes the job role to SageMaker (``iam:PassRole``) and, with ``Tags``, tags
  the job (``sagemaker:AddTags``);
- for every job created, SageMaker assumes the job role and, with it, pulls the image from ECR
  and uses the job's KMS key for its volume (a grant) and its outputs. The local runner plays
  none of that, so these come from the request, as AWS documents them.

A call this module does not know is an error: a new call must be mapped, not waved through.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from aws_call_recording import RecordedCall

ContextValue = str | tuple[str, ...]

SAGEMAKER_SERVICE = "sagemaker.amazonaws.com"


@dataclass(frozen=True)
class Authorization:
    """One decision IAM makes: may this principal do ``action`` on ``resource`` in this context?"""

    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    principal_service: str | None = None
    """Set for a service assuming a role (evaluated against the role's trust policy)."""
    because: str = ""
    """The call (or the derivation) it comes from, for failure messages."""

    def __str__(self) -> str:
        context = f" {dict(self.context)}" if self.context else ""
        return f"{self.action} on {self.resource}{context} ({self.because})"


class UnmappedCallError(LookupError):
    """A recorded call whose IAM authorizations this module does not know yet."""


@dataclass(frozen=True)
class Scope:
    """Where ARNs live: the account the local runner answers as, and the call's region."""

    account: str
    region: str


# --- S3 -------------------------------------------------------------------------------------


def _bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def _object_arn(params: Mapping[str, Any]) -> str:
    return f"arn:aws:s3:::{params['Bucket']}/{params['Key']}"


def _through_s3(scope: Scope) -> dict[str, ContextValue]:
    return {"kms:ViaService": f"s3.{scope.region}.amazonaws.com"}


def _list_bucket(call: RecordedCall, scope: Scope) -> Iterator[Authorization]:
    context = {"s3:prefix": call.params["Prefix"]} if "Prefix" in call.params else {}
    yield Authorization("s3:ListBucket", _bucket_arn(call.params["Bucket"]), context)


def _list_uploads(call: RecordedCall, scope: Scope) -> Iterator[Authorization]:
    yield Authorization("s3:ListBucketMultipartUploads", _bucket_arn(call.params["Bucket"]))


def _read_object(call: RecordedCall, scope: Scope) -> Iterator[Authorization]:
    yield Authorization("s3:GetObject", _object_arn(call.params))
    if call.operation == "GetObject" and call.response.get("ServerSideEncryption") == "aws:kms":
        yield Authorization(
            "kms:Decrypt", call.response["SSEKMSKeyId"], _through_s3(scope), because="S3 decrypts an SSE-KMS object"
        )


def _write_object(call: RecordedCall, scope: Scope) -> Iterator[Authorization]:
    yield Authorization("s3:PutObject", _object_arn(call.params))
    if call.params.get("ServerSideEncryption") == "aws:kms":
        yield Authorization(
            "kms:GenerateDataKey",
            call.params["SSEKMSKeyId"],
            _through_s3(scope),
            because="S3 encrypts the object with the run's KMS key",
        )


def _abort_upload(call: RecordedCall, scope: Scope) -> Iterator[Authorization]:
    yield Authorization("s3:AbortMultipartUpload", _object_arn(call.params))


# --- CloudWatch Logs ------------------------------------------------------------------------


def _log_group_arn(scope: Scope, group: str) -> str:
    return f"arn:aws:logs:{scope.region}:{scope.account}:log-group:{group}"


def _on_log_group(action: str) -> Callable[[RecordedCall, Scope], Iterator[Authorization]]:
    def authorize(call: RecordedCall, scope: Scope) -> Iterator[Authorization]:
        yield Authorization(action, _log_group_arn(scope, call.params["logGroupName"]))

    return authorize


def _on_log_stream(action: str) -> Callable[[RecordedCall, Scope], Iterator[Authorization]]:
    def authorize(call: RecordedCall, scope: Scope) -> Iterator[Authorization]:
        group = _log_group_arn(scope, call.params["logGroupName"])
        yield Authorization(action, f"{group}:log-stream:{call.params['logStreamName']}")

    return authorize


# --- SageMaker ------------------------------------------------------------------------------


def job_arn(scope: Scope, kind: str, name: str) -> str:
    """SageMaker lower-cases job names in ARNs (``…:training-job/<name>``)."""
    return f"arn:aws:sagemaker:{scope.region}:{scope.account}:{kind}-job/{name.lower()}"


def _kind(operation: str) -> str:
    return "training" if "TrainingJob" in operation else "processing"


def _network_isolation(request: Mapping[str, Any]) -> bool:
    isolation = request.get(
        "EnableNetworkIsolation", (request.get("NetworkConfig") or {}).get("EnableNetworkIsolation")
    )
    return bool(isolation)


def _create_job(call: RecordedCall, scope: Scope) -> Iterator[Authorization]:
    request = call.params
    kind = _kind(call.operation)
    arn = job_arn(scope, kind, request[f"{kind.capitalize()}JobName"])
    tag_keys = tuple(tag["Key"] for tag in request.get("Tags", []))
    context: dict[str, ContextValue] = {
        "sagemaker:NetworkIsolation": str(_network_isolation(request)).lower(),
        "aws:TagKeys": tag_keys,
    }
    yield Authorization(f"sagemaker:{call.operation}", arn, context)
    if tag_keys:
        yield Authorization(
            "sagemaker:AddTags", arn, {"aws:TagKeys": tag_keys}, because="tagging on create needs AddTags"
        )
    yield Authorization(
        "iam:PassRole",
        request["RoleArn"],
        {"iam:PassedToService": SAGEMAKER_SERVICE},
        because=f"{call.operation} hands the job role to SageMaker",
    )


def _on_job(call: RecordedCall, scope: Scope) -> Iterator[Authorization]:
    kind = _kind(call.operation)
    yield Authorization(f"sagemaker:{call.operation}", job_arn(scope, kind, call.params[f"{kind.capitalize()}JobName"]))


def _list_jobs(call: RecordedCall, scope: Scope) -> Iterator[Authorization]:
    yield Authorization(f"sagemaker:{call.operation}", "*")


Mapper = Callable[[RecordedCall, Scope], Iterator[Authorization]]

MAPPERS: dict[tuple[str, str], Mapper] = {
    ("s3", "HeadBucket"): _list_bucket,
    ("s3", "ListObjectsV2"): _list_bucket,
    ("s3", "ListObjects"): _list_bucket,
    ("s3", "ListMultipartUploads"): _list_uploads,
    ("s3", "HeadObject"): _read_object,
    ("s3", "GetObject"): _read_object,
    ("s3", "PutObject"): _write_object,
    ("s3", "CreateMultipartUpload"): _write_object,
    ("s3", "UploadPart"): _write_object,
    ("s3", "CompleteMultipartUpload"): _write_object,
    ("s3", "AbortMultipartUpload"): _abort_upload,
    ("logs", "CreateLogGroup"): _on_log_group("logs:CreateLogGroup"),
    ("logs", "CreateLogStream"): _on_log_group("logs:CreateLogStream"),
    ("logs", "DescribeLogStreams"): _on_log_group("logs:DescribeLogStreams"),
    ("logs", "FilterLogEvents"): _on_log_group("logs:FilterLogEvents"),
    ("logs", "PutLogEvents"): _on_log_stream("logs:PutLogEvents"),
    ("logs", "GetLogEvents"): _on_log_stream("logs:GetLogEvents"),
    ("sagemaker", "CreateProcessingJob"): _create_job,
    ("sagemaker", "CreateTrainingJob"): _create_job,
    ("sagemaker", "DescribeProcessingJob"): _on_job,
    ("sagemaker", "DescribeTrainingJob"): _on_job,
    ("sagemaker", "StopProcessingJob"): _on_job,
    ("sagemaker", "StopTrainingJob"): _on_job,
    ("sagemaker", "ListProcessingJobs"): _list_jobs,
    ("sagemaker", "ListTrainingJobs"): _list_jobs,
}
"""(IAM service prefix, operation) -> the authorizations one such call needs."""


def authorizations(call: RecordedCall, account: str) -> list[Authorization]:
    mapper = MAPPERS.get((call.service, call.operation))
    if mapper is None:
        raise UnmappedCallError(f"{call}: add its IAM actions to iam_authorizations.MAPPERS")
    scope = Scope(account, call.region)
    return [
        Authorization(item.action, item.resource, item.context, item.principal_service, item.because or str(call))
        for item in mapper(call, scope)
    ]


# --- What SageMaker does with the job role for each job it starts -----------------------------


def _image_repository_arn(image_uri: str) -> str:
    """``<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>`` -> the repository's ARN."""
    registry, _, path = image_uri.partition("/")
    account, _, rest = registry.partition(".dkr.ecr.")
    region = rest.removesuffix(".amazonaws.com")
    repository = path.split("@")[0].rsplit(":", 1)[0]
    return f"arn:aws:ecr:{region}:{account}:repository/{repository}"


def _job_settings(request: Mapping[str, Any]) -> tuple[str, str | None, str | None]:
    """(image URI, volume KMS key, output KMS key) of a Create*Job request."""
    if "AlgorithmSpecification" in request:
        return (
            request["AlgorithmSpecification"]["TrainingImage"],
            request["ResourceConfig"].get("VolumeKmsKeyId"),
            request["OutputDataConfig"].get("KmsKeyId"),
        )
    return (
        request["AppSpecification"]["ImageUri"],
        request["ProcessingResources"]["ClusterConfig"].get("VolumeKmsKeyId"),
        (request.get("ProcessingOutputConfig") or {}).get("KmsKeyId"),
    )


def sagemaker_on_behalf_of_jobs(created: RecordedCall, account: str) -> tuple[Authorization, list[Authorization]]:
    """For one successful ``Create*Job``: SageMaker assuming the role, and what it then does with it.

    The first is checked against the role's trust policy, the rest against its permissions.
    """
    request = created.params
    kind = _kind(created.operation)
    arn = created.response[f"{kind.capitalize()}JobArn"]
    because = f"SageMaker running {request[f'{kind.capitalize()}JobName']}"
    assume = Authorization(
        "sts:AssumeRole",
        request["RoleArn"],
        {"aws:SourceAccount": account, "aws:SourceArn": arn},
        principal_service=SAGEMAKER_SERVICE,
        because=because,
    )
    image, volume_key, output_key = _job_settings(request)
    repository = _image_repository_arn(image)
    actions = [
        Authorization("ecr:GetAuthorizationToken", "*", because=f"{because}: registry login"),
        *(
            Authorization(action, repository, because=f"{because}: image pull")
            for action in ("ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage")
        ),
    ]
    if volume_key:
        actions.append(
            Authorization(
                "kms:CreateGrant",
                volume_key,
                {"kms:GrantIsForAWSResource": "true"},
                because=f"{because}: encrypted ML storage volume",
            )
        )
    if output_key:
        actions.append(Authorization("kms:Encrypt", output_key, because=f"{because}: encrypted outputs"))
    return assume, actions
