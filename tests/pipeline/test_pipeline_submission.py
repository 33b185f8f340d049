"""Submission parsing: the four URL forms, the allow-list, email addresses, steps and presets."""

from __future__ import annotations

import json

import pytest

from splatflow.pipeline.refusal import SubmissionError
from splatflow.pipeline.s3_locations import S3Location
from splatflow.pipeline.submission import (
    ALLOWED_BUCKETS_SETTING,
    Submission,
    parse_submission,
    run_key_segment,
    run_prefix,
    validate_email,
)

ALLOWED = {"drone-uploads", "my.dotted.bucket"}


# --- URL forms ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "normalised"),
    [
        ("pilot@example.com", "pilot@example.com"),
        ("Pilot.Name+survey@Example.COM", "Pilot.Name+survey@example.com"),
        ("  pilot@example.com ", "pilot@example.com"),
        ("pilot@münchen.de", "pilot@xn--mnchen-3ya.de"),
    ],
)
def test_one_plain_address_is_accepted_with_a_lower_case_domain(address: str, normalised: str) -> None:
    assert validate_email(address) == normalised


@pytest.mark.parametrize(
    "address",
    [
        "a@b.c\r\nBcc: x@y",
        "pilot@example.com\r\nBcc: victim@example.com",
        "pilot@example.com\nSubject: hi",
        "pilot@example.com%0d%0aBcc:x@example.com",
        "Pilot <pilot@example.com>",
        "pilot@example.com, other@example.com",
        "pilot@example.com;other@example.com",
        "pilot@example.com other@example.com",
        '"pilot name"@example.com',
        "pilot",
        "@example.com",
        "pilot@",
        "pilot@@example.com",
        "pilot@localhost",
        "pilot@[127.0.0.1]",
        "pilot@example.test",
        "piløt@example.com",
        "pilot@exa\u200bmple.com",
        "p" * 65 + "@example.com",
        "pilot@" + "d" * 250 + ".com",
        "",
        "   ",
    ],
)
def test_header_injection_lists_and_odd_addresses_are_refused(address: str) -> None:
    with pytest.raises(SubmissionError) as refused:
        validate_email(address)
    message = str(refused.value)
    assert message.startswith("email")
    assert "\r" not in message.replace("\\r", "") and "\n" not in message


def test_an_address_that_is_not_text_is_refused() -> None:
    with pytest.raises(SubmissionError, match="email must be a text string, not a list"):
        validate_email(["a@example.com"])  # type: ignore[arg-type]


# --- whole submissions ----------------------------------------------------------------------------


def test_a_full_run_needs_only_the_url_and_the_email() -> None:
    submission = parse_submission(
        {"s3_url": "https://drone-uploads.s3.amazonaws.com/survey/photos.zip", "email": "Pilot@Example.com"}, ALLOWED
    )
    assert submission == Submission(
        email="Pilot@example.com",
        steps="full",
        preset="standard",
        input=S3Location("drone-uploads", "survey/photos.zip"),
    )
    assert submission.source == submission.input


def test_empty_form_fields_count_as_not_given() -> None:
    submission = parse_submission(
        {
            "s3_url": "s3://drone-uploads/p.zip",
            "email": "p@example.com",
            "steps": "",
            "preset": None,
            "sfm_output_url": "",
            "model_url": None,
        },
        ALLOWED,
    )
    assert (submission.steps, submission.preset, submission.model, submission.sfm_output) == (
        "full",
        "standard",
        None,
        None,
    )


def test_train_and_compress_reads_an_sfm_output_prefix() -> None:
    submission = parse_submission(
        {
            "email": "p@example.com",
            "steps": "train_and_compress",
            "preset": "high",
            "sfm_output_url": "s3://drone-uploads/runs/abc/sfm",
        },
        ALLOWED,
    )
    assert submission.sfm_output == S3Location("drone-uploads", "runs/abc/sfm/")
    assert submission.source == submission.sfm_output
    assert submission.input is None


@pytest.mark.parametrize("key", ["runs/abc/model.tar.gz", "splats/scene.PLY", "runs/abc/train/job/output/model/"])
def test_compress_only_reads_a_model_archive_a_ply_or_a_model_folder(key: str) -> None:
    submission = parse_submission(
        {"email": "p@example.com", "steps": "compress_only", "model_url": f"s3://drone-uploads/{key}"}, ALLOWED
    )
    assert submission.model == S3Location("drone-uploads", key)


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"email": "p@example.com"}, "s3_url is required when steps is 'full'"),
        ({"email": "p@example.com", "steps": "train_and_compress"}, "sfm_output_url is required"),
        ({"email": "p@example.com", "steps": "compress_only"}, "model_url is required"),
        ({"s3_url": "s3://drone-uploads/p.zip"}, "email is required"),
        ({"s3_url": "s3://drone-uploads/p.zip", "email": None}, "email is required"),
        (
            {"s3_url": "s3://drone-uploads/p.zip", "email": "p@example.com", "steps": "everything"},
            "steps is 'everything'",
        ),
        ({"s3_url": "s3://drone-uploads/p.zip", "email": "p@example.com", "steps": "FULL"}, "choose one of: full"),
        ({"s3_url": "s3://drone-uploads/p.zip", "email": "p@example.com", "preset": "ultra"}, "preset is 'ultra'"),
        ({"s3_url": "s3://drone-uploads/p.zip", "email": "p@example.com", "preset": 3}, "preset is a int"),
        ({"s3_url": "s3://drone-uploads/p.zip", "email": "p@example.com", "preset": ["high"]}, "preset is a list"),
        ({"s3_url": "s3://drone-uploads/p.zip", "email": "p@example.com", "preset": "x" * 10_000}, "preset is 'xxx"),
        ({"s3_url": "s3://drone-uploads/p.zip", "email": 7}, "email must be a text string, not a int"),
        ({"s3_url": 7, "email": "p@example.com"}, "s3_url must be a text string, not a int"),
        ({"s3_url": "s3://drone-uploads/photos.tar", "email": "p@example.com"}, "s3_url must point at a .zip"),
        ({"s3_url": "s3://drone-uploads/folder/", "email": "p@example.com"}, "s3_url must point at a .zip"),
        (
            {"email": "p@example.com", "steps": "compress_only", "model_url": "s3://drone-uploads/m.zip"},
            "model_url must point at a model.tar.gz, a .ply or a training job's model folder (ending in /)",
        ),
        (
            {"s3_url": "s3://drone-uploads/p.zip", "email": "p@example.com", "model_url": "s3://drone-uploads/m.ply"},
            "model_url is only used when steps is 'compress_only'; leave it empty when steps is 'full'",
        ),
        (
            {
                "s3_url": "s3://drone-uploads/p.zip",
                "email": "p@example.com",
                "steps": "compress_only",
                "model_url": "s3://drone-uploads/m.ply",
            },
            "s3_url is only used when steps is 'full'",
        ),
    ],
)
def test_missing_absurd_and_mistyped_values_are_refused_naming_the_field(params: dict[str, object], words: str) -> None:
    with pytest.raises(SubmissionError) as refused:
        parse_submission(params, ALLOWED)
    assert words in str(refused.value)
    assert len(str(refused.value)) < 400


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"max_steps": -5}, "'max_steps' is not a setting of this pipeline; a submission takes only: s3_url, email"),
        ({"max_steps": 10**12, "iterations": "1e9"}, "'iterations', 'max_steps' are not settings of this pipeline"),
        ({f"field{n}": n for n in range(7)}, "'field0', 'field1', 'field2', 'field3', 'field4', …"),
        ({"x" * 500: 1}, "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx is not a setting"),
    ],
)
def test_fields_the_pipeline_does_not_read_are_refused_not_ignored(extra: dict[str, object], words: str) -> None:
    with pytest.raises(SubmissionError) as refused:
        parse_submission({"s3_url": "s3://drone-uploads/p.zip", "email": "p@example.com", **extra}, ALLOWED)
    assert words in str(refused.value)
    assert len(str(refused.value)) < 400


@pytest.mark.parametrize(
    "params",
    [
        {"s3_url": "s3://other-bucket/p.zip", "email": "p@example.com"},
        {"s3_url": "https://other-bucket.s3.amazonaws.com/p.zip", "email": "p@example.com"},
        {"s3_url": "https://s3.amazonaws.com/other-bucket/p.zip", "email": "p@example.com"},
        {"email": "p@example.com", "steps": "train_and_compress", "sfm_output_url": "s3://other-bucket/sfm/"},
        {"email": "p@example.com", "steps": "compress_only", "model_url": "s3://other-bucket/model.tar.gz"},
    ],
)
def test_every_user_given_location_must_be_in_an_allowed_bucket(params: dict[str, object]) -> None:
    with pytest.raises(SubmissionError, match=r"the bucket 'other-bucket' is not allowed.*drone-uploads"):
        parse_submission(params, ALLOWED)


def test_an_empty_allow_list_refuses_everything_and_says_how_to_configure_it() -> None:
    with pytest.raises(SubmissionError) as refused:
        parse_submission({"s3_url": "s3://drone-uploads/p.zip", "email": "p@example.com"}, [])
    assert ALLOWED_BUCKETS_SETTING in str(refused.value)


def test_a_submission_built_directly_still_needs_its_source() -> None:
    with pytest.raises(SubmissionError, match="s3_url is required"):
        Submission(email="p@example.com")


@pytest.mark.parametrize(
    "params",
    [
        {"s3_url": S3Location("drone-uploads", "my photos/été 100%.zip").url, "email": "p@example.com"},
        {
            "email": "p@example.com",
            "steps": "train_and_compress",
            "preset": "preview",
            "sfm_output_url": "s3://drone-uploads/r/sfm/",
        },
        {
            "email": "p@example.com",
            "steps": "compress_only",
            "preset": "high",
            "model_url": "s3://drone-uploads/m+1.ply",
        },
    ],
)
def test_to_dict_is_json_safe_and_reads_back_as_the_same_submission(params: dict[str, object]) -> None:
    submission = parse_submission(params, ALLOWED)
    travelled = json.loads(json.dumps(submission.to_dict()))
    assert Submission.from_dict(travelled) == submission
    assert parse_submission(travelled, ALLOWED) == submission


def test_from_dict_checks_what_it_reads() -> None:
    with pytest.raises(SubmissionError, match="email"):
        Submission.from_dict({"s3_url": "s3://drone-uploads/p.zip", "email": "a@b.c\r\nBcc: x@y"})


# --- run prefix ---------------------------------------------------------------------------------


def test_run_prefix_is_a_safe_deterministic_folder_of_the_work_bucket() -> None:
    run_id = "manual__2026-05-01T12:00:00.123456+00:00"
    prefix = run_prefix("splatflow-work", run_id)
    assert prefix == run_prefix("splatflow-work", run_id)
    assert prefix.bucket == "splatflow-work"
    assert prefix.key.startswith("runs/manual__2026-05-01T12-00-00.123456-00-00-")
    assert prefix.key.endswith("/")
    segment = prefix.key.removeprefix("runs/").removesuffix("/")
    assert segment == run_key_segment(run_id)
    assert all(c.isalnum() or c in "._-" for c in segment)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("manual__2026-05-01T12:00:00+00:00", "manual__2026-05-01T12-00-00-00-00"),
        ("a:b", "a+b"),
        ("x" * 200 + "1", "x" * 200 + "2"),
    ],
)
def test_run_ids_that_look_alike_get_different_prefixes(first: str, second: str) -> None:
    assert run_key_segment(first) != run_key_segment(second)


@pytest.mark.parametrize("run_id", ["../../etc", "..", "/abs/path", "a/b", "run\r\nid", "é"])
def test_hostile_run_ids_stay_one_segment(run_id: str) -> None:
    segment = run_key_segment(run_id)
    assert "/" not in segment
    assert segment not in {".", ".."}
    assert all((c.isalnum() and c.isascii()) or c in "._-" for c in segment)
    assert len(segment) <= 100


def test_run_prefix_refuses_an_empty_run_id_and_a_bad_work_bucket() -> None:
    with pytest.raises(ValueError, match="empty"):
        run_prefix("splatflow-work", "")
    with pytest.raises(SubmissionError, match="work bucket"):
        run_prefix("Work_Bucket", "manual__x")
