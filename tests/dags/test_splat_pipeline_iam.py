"""The least-privilege IAM policies in ``docs/iam/`` allow every AWS call a real run makes, and no more.

One full ``splat_pipeline`` run (with one transient failure of the training and of the compression
job, so the retry path's calls are in it, and a KMS key, so the encryption calls are too) plus a
dry run of ``splat_reprocess`` is recorded on the embedded runtime. Each recorded call is turned
into the IAM authorizations it needs on AWS (``iam_authorizations``) and decided against the
policy of the identity that made it (``iam_policy_evaluation``). The converse holds too: every
action a policy grants is needed by the recording, or is listed here with why only AWS needs it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_call_recording import RecordedCall, recording_aws_calls
from iam_authorizations import Authorization, UnmappedCallError, authorizations, sagemaker_on_behalf_of_jobs
from iam_policy_evaluation import (
    POLICY_DIR,
    REPO_ROOT,
    Decision,
    as_list,
    decide,
    granted_actions,
    load_policy,
    placeholders_in,
    statements,
)
from pipeline_support import SAMPLE_PHOTOS, UPLOADS, WORK, pipeline_environment, run_pipeline, upload, zip_photos

from splatflow.local.aws_clients import aws_client
from splatflow.local.sagemaker.job_records import ACCOUNT_ID
from splatflow.pipeline.settings import LOCAL_ROLE_ARN

REGION = "us-east-1"
JOB_ROLE_NAME = LOCAL_ROLE_ARN.rsplit("/", 1)[1]
EXAMPLE_KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/1234abcd-12ab-34cd-56ef-1234567890ab"

CONNECTION_POLICY = "airflow-connection-policy.json"
JOB_ROLE_POLICY = "sagemaker-job-role-policy.json"
TRUST_POLICY = "sagemaker-job-role-trust-policy.json"
LINK_SIGNER_POLICY = "link-signer-policy.json"
POLICY_OF_IDENTITY = {"airflow": CONNECTION_POLICY, "job": JOB_ROLE_POLICY}

NEEDED_ONLY_ON_AWS: dict[str, dict[str, str]] = {
    CONNECTION_POLICY: {
        "sagemaker:StopProcessingJob": "only a user killing a running stage task stops its job "
        "(tests/pipeline/test_pipeline_operators.py); a pipeline run never does",
        "sagemaker:StopTrainingJob": "as StopProcessingJob",
        "s3:ListBucketMultipartUploads": "only a wait_for_input poke that finds no ZIP asks whether an upload of it "
        "is in progress (tests/pipeline/test_pipeline_sensors.py); the recorded run's ZIP is there at the first poke",
    },
    JOB_ROLE_POLICY: {
        "logs:DescribeLogStreams": "SageMaker's log agent looks its stream up with the job role "
        "(documented among the execution-role permissions); the local runner writes the log without it",
    },
}
"""Granted actions that no recorded call needs (the ones SageMaker needs for each job it starts are
derived from the recorded requests instead: see ``iam_authorizations.sagemaker_on_behalf_of_jobs``)."""

RESOURCE_WILDCARD_REQUIRED = {
    "sagemaker:ListProcessingJobs": "List actions have no resource type: IAM only accepts Resource '*'",
    "sagemaker:ListTrainingJobs": "List actions have no resource type: IAM only accepts Resource '*'",
    "ecr:GetAuthorizationToken": "the registry login token covers the whole registry; the action has no resource type",
}


def placeholder_values(kms_key_arn: str) -> dict[str, str]:
    return {
        "AccountId": ACCOUNT_ID,
        "Region": REGION,
        "UploadsBucket": UPLOADS,
        "WorkBucket": WORK,
        "JobRoleName": JOB_ROLE_NAME,
        "KmsKeyArn": kms_key_arn,
    }


@dataclass(frozen=True)
class RecordedRun:
    pipeline_state: str
    reprocess_state: str
    kms_key_arn: str
    calls: list[RecordedCall]

    def of(self, identity: str) -> list[RecordedCall]:
        return [call for call in self.calls if call.identity == identity]

    def created_jobs(self) -> list[RecordedCall]:
        return [
            call
            for call in self.of("airflow")
            if call.operation in {"CreateProcessingJob", "CreateTrainingJob"} and "Error" not in call.response
        ]


def _run_dag(dag_id: str, conf: dict[str, Any]) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags" / f"{dag_id}.py"))
    assert bag.import_errors == {}
    return bag.get_dag(dag_id).test(run_conf=conf)


@pytest.fixture(scope="module")
def recorded_run(tmp_path_factory: pytest.TempPathFactory, airflow_db: Path) -> Iterator[RecordedRun]:
    state = tmp_path_factory.mktemp("iam")
    with pipeline_environment(state, injected_job_failures={"3dgs": 1, "compressor": 1}) as runtime:
        assert runtime.runner is not None
        key_arn = aws_client("kms", runtime.aws_url, REGION).create_key()["KeyMetadata"]["Arn"]
        os.environ["SPLATFLOW_KMS_KEY_ID"] = key_arn  # pipeline_environment restores the environment
        url = upload(runtime, "surveys/site-7/flight.zip", zip_photos(sorted(SAMPLE_PHOTOS.glob("*.JPG"))))
        job_role_clients = [runtime.runner.executor.s3, runtime.runner.executor.logs]
        with recording_aws_calls(job_role_clients) as calls:
            pipeline = run_pipeline({"s3_url": url, "email": "iam@example.com", "preset": "preview"})
            reprocess = _run_dag("splat_reprocess", {"dry_run": True})
        yield RecordedRun(pipeline.state, reprocess.state, key_arn, list(calls))


def _refusals(policy: dict[str, Any], requests: list[Authorization]) -> str:
    """One line per refused request (empty when all are allowed), readable in a failure report."""
    decisions = ((decide(policy, request), request) for request in requests)
    return "\n".join(
        f"{decision.value}: {request}" for decision, request in decisions if decision is not Decision.ALLOWED
    )


def _needed(run: RecordedRun, identity: str) -> list[Authorization]:
    needed = [item for call in run.of(identity) for item in authorizations(call, ACCOUNT_ID)]
    if identity == "job":
        needed += [item for call in run.created_jobs() for item in sagemaker_on_behalf_of_jobs(call, ACCOUNT_ID)[1]]
    return needed


@pytest.mark.slow
def test_the_recording_covers_a_whole_run_with_retries_and_encryption(recorded_run: RecordedRun) -> None:
    assert recorded_run.pipeline_state == "success"
    assert recorded_run.reprocess_state == "success"
    seen = {(call.identity, call.service, call.operation) for call in recorded_run.calls}
    assert {
        ("airflow", "sagemaker", "CreateProcessingJob"),
        ("airflow", "sagemaker", "CreateTrainingJob"),
        ("airflow", "sagemaker", "ListProcessingJobs"),
        ("airflow", "sagemaker", "ListTrainingJobs"),
        ("airflow", "logs", "GetLogEvents"),
        ("airflow", "s3", "PutObject"),
        ("job", "s3", "GetObject"),
        ("job", "s3", "PutObject"),
        ("job", "logs", "PutLogEvents"),
    } <= seen, "the retries, the log copies and both identities' transfers are in the recording"
    assert any(call.presigned for call in recorded_run.of("airflow")), "the email's presigned links are recorded"
    assert any(call.asynchronous for call in recorded_run.of("airflow")), "the triggers' aiobotocore polls are recorded"
    written = [call for call in recorded_run.calls if call.operation == "PutObject"]
    assert all(call.params.get("SSEKMSKeyId") == recorded_run.kms_key_arn for call in written)


@pytest.mark.slow
@pytest.mark.parametrize("identity", ["airflow", "job"])
def test_every_recorded_call_is_allowed_by_its_identitys_policy(recorded_run: RecordedRun, identity: str) -> None:
    policy = load_policy(POLICY_OF_IDENTITY[identity], placeholder_values(recorded_run.kms_key_arn))
    needed = _needed(recorded_run, identity)
    assert needed, "nothing recorded: the recorder did not see the calls"
    refused = _refusals(policy, needed)
    assert not refused, f"{POLICY_OF_IDENTITY[identity]} refuses:\n{refused}"


@pytest.mark.slow
def test_every_emailed_link_is_allowed_by_the_link_signers_policy(recorded_run: RecordedRun) -> None:
    """The links' downloads need only the link signer's policy (SPLATFLOW_PRESIGN_CONN_ID)."""
    policy = load_policy(LINK_SIGNER_POLICY, placeholder_values(recorded_run.kms_key_arn))
    links = [item for call in recorded_run.of("airflow") if call.presigned for item in authorizations(call, ACCOUNT_ID)]
    assert links, "the email's presigned links are recorded"
    refused = _refusals(policy, links)
    assert not refused, f"{LINK_SIGNER_POLICY} refuses:\n{refused}"


@pytest.mark.slow
def test_sagemaker_may_assume_the_job_role_for_every_job_it_ran(recorded_run: RecordedRun) -> None:
    trust = load_policy(TRUST_POLICY, placeholder_values(recorded_run.kms_key_arn))
    assumptions = [sagemaker_on_behalf_of_jobs(call, ACCOUNT_ID)[0] for call in recorded_run.created_jobs()]
    assert len(assumptions) == 5, "sfm, two training jobs and two compression jobs (one of each failed once)"
    refused = _refusals(trust, assumptions)
    assert not refused, f"{TRUST_POLICY} refuses:\n{refused}"


@pytest.mark.slow
@pytest.mark.parametrize("identity", ["airflow", "job"])
def test_every_granted_action_is_used_or_needed_only_on_aws(recorded_run: RecordedRun, identity: str) -> None:
    name = POLICY_OF_IDENTITY[identity]
    granted = granted_actions(load_policy(name, placeholder_values(recorded_run.kms_key_arn)))
    used = {item.action for item in _needed(recorded_run, identity)}
    only_on_aws = set(NEEDED_ONLY_ON_AWS[name])
    assert granted - used - only_on_aws == set(), "granted but never needed: remove them or say why AWS needs them"
    assert only_on_aws & used == set(), "listed as needed only on AWS, yet the local run needs them"
    assert only_on_aws <= granted


# --- The documents themselves, and the evaluator (no run needed) -----------------------------------

POLICY_FILES = sorted(path.name for path in POLICY_DIR.glob("*.json"))


def test_the_four_policy_documents_exist() -> None:
    expected = {CONNECTION_POLICY, JOB_ROLE_POLICY, TRUST_POLICY, LINK_SIGNER_POLICY}
    assert set(POLICY_FILES) == expected


@pytest.mark.parametrize("name", POLICY_FILES)
def test_no_action_wildcards_and_every_resource_is_scoped_to_the_deployment(name: str) -> None:
    raw = load_policy(name, {key: f"${{{key}}}" for key in placeholders_in(POLICY_DIR / name)})
    for statement in statements(raw):
        actions = as_list(statement["Action"])
        assert not [action for action in actions if "*" in action or "?" in action], statement["Sid"]
        for resource in as_list(statement.get("Resource", [])):
            if resource == "*":
                assert set(actions) <= set(RESOURCE_WILDCARD_REQUIRED), statement["Sid"]
            else:
                assert "${" in resource, f"{statement['Sid']}: {resource} names no bucket, account or key"


def test_every_placeholder_is_explained_in_docs_iam_md() -> None:
    guide = (REPO_ROOT / "docs" / "iam.md").read_text(encoding="utf-8")
    used = set().union(*(placeholders_in(POLICY_DIR / name) for name in POLICY_FILES))
    assert used == set(placeholder_values(EXAMPLE_KEY_ARN))
    assert [name for name in sorted(used) if f"`${{{name}}}`" not in guide] == []
    for reason_holder in (RESOURCE_WILDCARD_REQUIRED, *NEEDED_ONLY_ON_AWS.values()):
        for action in reason_holder:
            assert f"`{action}`" in guide, f"docs/iam.md does not explain {action}"


ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/{JOB_ROLE_NAME}"
JOB_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:training-job/splat-run-train"
LOGS = f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group"
VIA_S3 = {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}
RUN_OBJECTS = f"arn:aws:s3:::{WORK}/runs/r"
TRAINED_MODEL = f"{RUN_OBJECTS}/train/splat-r-train/output/model"
CLEARED_MODEL = f"{RUN_OBJECTS}/c1/train/splat-r-train-c1/output/model"
ISOLATED = {"sagemaker:NetworkIsolation": "true", "aws:TagKeys": ("splatflow:run-id",)}

EVALUATOR_CASES = [
    # (policy, request, expected): each refusal sits beside the closest request that is allowed.
    (CONNECTION_POLICY, Authorization("s3:PutObject", f"arn:aws:s3:::{WORK}/runs/r/manifest.json"), Decision.ALLOWED),
    (CONNECTION_POLICY, Authorization("s3:PutObject", f"arn:aws:s3:::{WORK}/other/x"), Decision.IMPLICITLY_DENIED),
    (CONNECTION_POLICY, Authorization("s3:PutObject", f"arn:aws:s3:::{UPLOADS}/a.zip"), Decision.IMPLICITLY_DENIED),
    (CONNECTION_POLICY, Authorization("s3:GetObject", "arn:aws:s3:::someone-else/a.zip"), Decision.IMPLICITLY_DENIED),
    (CONNECTION_POLICY, Authorization("s3:DeleteObject", f"arn:aws:s3:::{WORK}/runs/r/x"), Decision.IMPLICITLY_DENIED),
    (LINK_SIGNER_POLICY, Authorization("s3:GetObject", f"{RUN_OBJECTS}/compress/scene.sog"), Decision.ALLOWED),
    (LINK_SIGNER_POLICY, Authorization("s3:GetObject", f"{RUN_OBJECTS}/manifest.json"), Decision.IMPLICITLY_DENIED),
    (LINK_SIGNER_POLICY, Authorization("s3:GetObject", f"{TRAINED_MODEL}/splat.ply"), Decision.ALLOWED),
    (LINK_SIGNER_POLICY, Authorization("s3:GetObject", f"{CLEARED_MODEL}/splat.ply"), Decision.ALLOWED),
    (LINK_SIGNER_POLICY, Authorization("s3:GetObject", f"{TRAINED_MODEL}/holdout/a.JPG"), Decision.IMPLICITLY_DENIED),
    (LINK_SIGNER_POLICY, Authorization("s3:GetObject", f"{TRAINED_MODEL}/cameras.json"), Decision.IMPLICITLY_DENIED),
    (LINK_SIGNER_POLICY, Authorization("s3:GetObject", f"arn:aws:s3:::{UPLOADS}/a.zip"), Decision.IMPLICITLY_DENIED),
    (LINK_SIGNER_POLICY, Authorization("s3:PutObject", f"{RUN_OBJECTS}/compress/x"), Decision.IMPLICITLY_DENIED),
    (
        CONNECTION_POLICY,
        Authorization("iam:PassRole", ROLE_ARN, {"iam:PassedToService": "sagemaker.amazonaws.com"}),
        Decision.ALLOWED,
    ),
    (
        CONNECTION_POLICY,
        Authorization("iam:PassRole", ROLE_ARN, {"iam:PassedToService": "ec2.amazonaws.com"}),
        Decision.IMPLICITLY_DENIED,
    ),
    (
        CONNECTION_POLICY,
        Authorization(
            "iam:PassRole", f"arn:aws:iam::{ACCOUNT_ID}:role/admin", {"iam:PassedToService": "sagemaker.amazonaws.com"}
        ),
        Decision.IMPLICITLY_DENIED,
    ),
    (CONNECTION_POLICY, Authorization("sagemaker:CreateTrainingJob", JOB_ARN, ISOLATED), Decision.ALLOWED),
    (
        CONNECTION_POLICY,
        Authorization("sagemaker:CreateTrainingJob", JOB_ARN, {**ISOLATED, "sagemaker:NetworkIsolation": "false"}),
        Decision.IMPLICITLY_DENIED,
    ),
    (
        CONNECTION_POLICY,
        Authorization("sagemaker:CreateTrainingJob", JOB_ARN, {**ISOLATED, "aws:TagKeys": ("owner",)}),
        Decision.IMPLICITLY_DENIED,
    ),
    (
        CONNECTION_POLICY,
        Authorization("sagemaker:CreateTrainingJob", JOB_ARN.replace("splat-", "other-"), ISOLATED),
        Decision.IMPLICITLY_DENIED,
    ),
    (CONNECTION_POLICY, Authorization("sagemaker:UpdateTrainingJob", JOB_ARN), Decision.IMPLICITLY_DENIED),
    (
        CONNECTION_POLICY,
        Authorization("logs:GetLogEvents", f"{LOGS}:/aws/sagemaker/TrainingJobs:log-stream:splat-x/algo-1-1"),
        Decision.ALLOWED,
    ),
    (
        CONNECTION_POLICY,
        Authorization("logs:PutLogEvents", f"{LOGS}:/aws/sagemaker/TrainingJobs:log-stream:splat-x/algo-1-1"),
        Decision.IMPLICITLY_DENIED,
    ),
    (
        CONNECTION_POLICY,
        Authorization("logs:GetLogEvents", f"{LOGS}:/aws/lambda/billing:log-stream:x"),
        Decision.IMPLICITLY_DENIED,
    ),
    (CONNECTION_POLICY, Authorization("kms:Decrypt", EXAMPLE_KEY_ARN, VIA_S3), Decision.ALLOWED),
    (CONNECTION_POLICY, Authorization("kms:Decrypt", EXAMPLE_KEY_ARN), Decision.IMPLICITLY_DENIED),
    (JOB_ROLE_POLICY, Authorization("s3:PutObject", f"arn:aws:s3:::{UPLOADS}/a.zip"), Decision.IMPLICITLY_DENIED),
    (JOB_ROLE_POLICY, Authorization("logs:CreateLogGroup", f"{LOGS}:/aws/lambda/x"), Decision.IMPLICITLY_DENIED),
    (
        JOB_ROLE_POLICY,
        Authorization("kms:Decrypt", EXAMPLE_KEY_ARN.replace("1234abcd", "99999999"), VIA_S3),
        Decision.IMPLICITLY_DENIED,
    ),
    (
        JOB_ROLE_POLICY,
        Authorization("ecr:BatchGetImage", f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/other/image"),
        Decision.IMPLICITLY_DENIED,
    ),
    (
        TRUST_POLICY,
        Authorization(
            "sts:AssumeRole",
            ROLE_ARN,
            {"aws:SourceAccount": ACCOUNT_ID, "aws:SourceArn": JOB_ARN},
            principal_service="sagemaker.amazonaws.com",
        ),
        Decision.ALLOWED,
    ),
    (
        TRUST_POLICY,
        Authorization(
            "sts:AssumeRole",
            ROLE_ARN,
            {"aws:SourceAccount": "111122223333", "aws:SourceArn": JOB_ARN.replace(ACCOUNT_ID, "111122223333")},
            principal_service="sagemaker.amazonaws.com",
        ),
        Decision.IMPLICITLY_DENIED,
    ),
    (
        TRUST_POLICY,
        Authorization(
            "sts:AssumeRole", ROLE_ARN, {"aws:SourceAccount": ACCOUNT_ID}, principal_service="ec2.amazonaws.com"
        ),
        Decision.IMPLICITLY_DENIED,
    ),
]


@pytest.mark.parametrize(
    ("policy_name", "request_", "expected"),
    EVALUATOR_CASES,
    ids=[f"{case[2].name.lower()}-{case[1].action}-{index}" for index, case in enumerate(EVALUATOR_CASES)],
)
def test_the_evaluator_refuses_what_the_policies_do_not_grant(
    policy_name: str, request_: Authorization, expected: Decision
) -> None:
    assert decide(load_policy(policy_name, placeholder_values(EXAMPLE_KEY_ARN)), request_) is expected


def test_an_explicit_deny_wins_over_an_allow() -> None:
    policy = load_policy(CONNECTION_POLICY, placeholder_values(EXAMPLE_KEY_ARN))
    policy["Statement"].append(
        {"Effect": "Deny", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{WORK}/runs/*/manifest.json"}
    )
    request = Authorization("s3:PutObject", f"arn:aws:s3:::{WORK}/runs/r/manifest.json")
    assert decide(policy, request) is Decision.EXPLICITLY_DENIED


def test_an_unsupported_condition_operator_is_an_error_not_a_pass() -> None:
    policy = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": "*",
                "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
            }
        ]
    }
    with pytest.raises(ValueError, match="IpAddress"):
        decide(policy, Authorization("s3:GetObject", "arn:aws:s3:::b/k"))


def test_a_call_with_no_known_authorizations_is_an_error_not_a_pass() -> None:
    call = RecordedCall("airflow", "s3", "DeleteObject", REGION, {"Bucket": WORK, "Key": "runs/r/x"})
    with pytest.raises(UnmappedCallError, match=re.escape("s3.DeleteObject")):
        authorizations(call, ACCOUNT_ID)
