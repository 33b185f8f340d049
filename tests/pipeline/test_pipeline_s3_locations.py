"""S3 URLs as users write them: the four accepted forms, percent-decoding, and every malformed or hostile
URL refused in words."""

from __future__ import annotations

import pytest

from splatflow.pipeline.refusal import SubmissionError
from splatflow.pipeline.s3_locations import S3Location, check_bucket_name, parse_s3_url


@pytest.mark.parametrize(
    ("url", "bucket", "key"),
    [
        ("s3://drone-uploads/survey/photos.zip", "drone-uploads", "survey/photos.zip"),
        ("S3://drone-uploads/photos.zip", "drone-uploads", "photos.zip"),
        ("https://drone-uploads.s3.amazonaws.com/survey/photos.zip", "drone-uploads", "survey/photos.zip"),
        ("https://drone-uploads.s3.eu-west-2.amazonaws.com/photos.zip", "drone-uploads", "photos.zip"),
        ("https://drone-uploads.s3-us-west-1.amazonaws.com/photos.zip", "drone-uploads", "photos.zip"),
        ("https://my.dotted.bucket.s3.us-east-1.amazonaws.com/a/b.zip", "my.dotted.bucket", "a/b.zip"),
        ("https://s3.amazonaws.com/drone-uploads/survey/photos.zip", "drone-uploads", "survey/photos.zip"),
        ("https://s3.ap-southeast-2.amazonaws.com/drone-uploads/photos.zip", "drone-uploads", "photos.zip"),
        ("https://s3-eu-west-1.amazonaws.com/drone-uploads/photos.zip", "drone-uploads", "photos.zip"),
        ("https://s3.us-gov-west-1.amazonaws.com/drone-uploads/photos.zip", "drone-uploads", "photos.zip"),
        ("https://drone-uploads.S3.AMAZONAWS.COM/x.zip", "drone-uploads", "x.zip"),
    ],
)
def test_each_accepted_url_form_names_the_bucket_and_key(url: str, bucket: str, key: str) -> None:
    assert parse_s3_url(url) == S3Location(bucket, key)


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("s3://drone-uploads/my%20photos/day%201.zip", "my photos/day 1.zip"),
        ("s3://drone-uploads/caf%C3%A9/%E5%86%99%E7%9C%9F.zip", "café/写真.zip"),
        ("s3://drone-uploads/café/写真.zip", "café/写真.zip"),
        ("s3://drone-uploads/a+b.zip", "a+b.zip"),
        # the S3 console's object URLs write a space as '+', and S3 reads them that way
        ("https://drone-uploads.s3.amazonaws.com/my+photos.zip", "my photos.zip"),
        ("https://drone-uploads.s3.amazonaws.com/a%2Bb.zip", "a+b.zip"),
        ("https://s3.amazonaws.com/drone-uploads/a%20b/%C3%A9.zip", "a b/é.zip"),
        ("s3://drone-uploads/100%25.zip", "100%.zip"),
    ],
)
def test_keys_are_percent_decoded(url: str, key: str) -> None:
    assert parse_s3_url(url).key == key


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("", "is empty"),
        ("drone-uploads/photos.zip", "no scheme"),
        ("http://drone-uploads.s3.amazonaws.com/photos.zip", "'http://'"),
        ("s3a://drone-uploads/photos.zip", "'s3a://'"),
        ("file:///etc/passwd", "'file://'"),
        ("javascript:alert(1)", "'javascript://'"),
        ("https://evil.example.com/drone-uploads/photos.zip", "not an Amazon S3 address"),
        ("https://drone-uploads.s3.amazonaws.com.evil.com/photos.zip", "not an Amazon S3 address"),
        ("https://drone-uploads.s3-website-us-east-1.amazonaws.com/photos.zip", "not an Amazon S3 address"),
        ("https://drone-uploads.s3.dualstack.us-east-1.amazonaws.com/photos.zip", "not an Amazon S3 address"),
        ("https://user:pw@drone-uploads.s3.amazonaws.com/photos.zip", "user, password or port"),
        ("https://drone-uploads.s3.amazonaws.com:8443/photos.zip", "user, password or port"),
        ("s3://drone-uploads:9000/photos.zip", "user, password or port"),
        ("s3://drone-uploads/photos.zip?versionId=3", "query string"),
        (
            "https://drone-uploads.s3.amazonaws.com/photos.zip?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=ab",
            "presigned",
        ),
        ("s3://drone-uploads/photos.zip?", "query string"),
        ("s3://drone-uploads/photos.zip#part", "fragment"),
        ("s3://drone-uploads", "no object"),
        ("s3://drone-uploads/", "no object"),
        ("https://drone-uploads.s3.amazonaws.com/", "no object"),
        ("https://s3.amazonaws.com/", "names no bucket"),
        ("https://s3.amazonaws.com/drone-uploads", "no object"),
        ("s3:///photos.zip", "names no bucket"),
        (" s3://drone-uploads/photos.zip", "a space"),
        ("s3://drone-uploads/my photos.zip", "write a space in a key as %20"),
        ("s3://drone-uploads/photos.zip\n", "U+000A"),
        ("s3://drone-uploads/a\r\nBcc: x@y.zip", "U+000D"),
        ("s3://drone-uploads/a\tb.zip", "U+0009"),
        ("s3://drone-uploads/\u202egpj.zip", "U+202E"),
        ("s3://drone-uploads/a\u200bb.zip", "U+200B"),
        ("s3://drone-uploads/a\u00a0b.zip", "U+00A0"),
        ("s3://drone-uploads/a%0D%0ABcc:%20x.zip", "U+000D"),
        ("s3://drone-uploads/a%00.zip", "U+0000"),
        ("s3://drone-uploads/%FF%FE.zip", "not UTF-8"),
        ("s3://drone-uploads/../secrets.zip", "'..'"),
        ("s3://drone-uploads/a/%2E%2E/b.zip", "'..'"),
        ("s3://drone-uploads/./b.zip", "'.'"),
        ("s3://" + "a" * 64 + "/photos.zip", "not a valid S3 bucket name"),
        ("s3://Drone-Uploads/photos.zip", "not a valid S3 bucket name"),
        ("s3://ab/photos.zip", "not a valid S3 bucket name"),
        ("s3://drone_uploads/photos.zip", "not a valid S3 bucket name"),
        ("s3://-drone/photos.zip", "not a valid S3 bucket name"),
        ("s3://drone..uploads/photos.zip", "two dots"),
        ("s3://192.168.1.10/photos.zip", "IP address"),
        ("s3://xn--drone/photos.zip", "reserves"),
        ("s3://drone-s3alias/photos.zip", "reserves"),
        ("s3://drone-uploads/" + "k" * 1100 + ".zip", "1024-byte"),
        ("s3://drone-uploads/" + "k" * 3000, "characters long"),
    ],
)
def test_malformed_urls_are_refused_in_words(url: str, words: str) -> None:
    with pytest.raises(SubmissionError) as refused:
        parse_s3_url(url)
    assert words in str(refused.value)
    assert str(refused.value).startswith("s3_url")


@pytest.mark.parametrize("value", [None, 42, ["s3://drone-uploads/a.zip"], {"url": "x"}, b"s3://drone-uploads/a.zip"])
def test_a_url_that_is_not_text_is_refused(value: object) -> None:
    with pytest.raises(SubmissionError, match="must be a text string"):
        parse_s3_url(value)  # type: ignore[arg-type]


def test_bucket_names_follow_s3_rules() -> None:
    assert check_bucket_name("a.b-c.123") == "a.b-c.123"
    with pytest.raises(SubmissionError, match="work bucket"):
        check_bucket_name("Work", "work bucket")


def test_location_uri_is_literal_and_url_reads_back_exactly() -> None:
    location = S3Location("drone-uploads", "my photos/100% café#1?.zip")
    assert location.uri == "s3://drone-uploads/my photos/100% café#1?.zip"
    assert parse_s3_url(location.url) == location
    assert location.name == "100% café#1?.zip"


def test_joinpath_adds_one_separator() -> None:
    assert S3Location("b", "runs/x/").joinpath("sfm/") == S3Location("b", "runs/x/sfm/")
    assert S3Location("b", "runs/x").joinpath("model.tar.gz") == S3Location("b", "runs/x/model.tar.gz")
    with pytest.raises(ValueError, match="relative"):
        S3Location("b", "runs/x/").joinpath("/etc")


# --- email --------------------------------------------------------------------------------------
