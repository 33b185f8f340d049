"""Validate a request against botocore's SageMaker service model the way AWS does.

botocore's client-side validation checks required members, types and minimum lengths only;
AWS also enforces maximum lengths, numeric ranges, enum values and patterns. The old pipeline
learned about a malformed request from a failed cloud run; here every request is checked in
full, every problem is collected (as AWS reports "N validation errors detected"), and the
member paths are written the way AWS writes them (``processingInputs.1.member.s3Input.s3Uri``).
"""

from __future__ import annotations

import datetime
import functools
import math
from collections.abc import Mapping
from typing import Any

import regex
from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape

from splatflow.local.sagemaker.errors import ValidationError

_MAX_ERRORS_LISTED = 10

# Java-style surrogate pairs in a character class (``\uD800\uDC00-\uDBFF\uDFFF``) mean "any
# supplementary code point"; Python regexes work on code points, so translate that range.
_SURROGATE_RANGE = "\\uD800\\uDC00-\\uDBFF\\uDFFF"
_SUPPLEMENTARY_RANGE = "\\U00010000-\\U0010FFFF"


@functools.cache
def compile_pattern(pattern: str) -> regex.Pattern[str]:
    """Compile an AWS (Java) pattern; AWS matches the whole value, so use ``fullmatch``."""
    return regex.compile(pattern.replace(_SURROGATE_RANGE, _SUPPLEMENTARY_RANGE))


def _aws_path(path: list[str]) -> str:
    return ".".join(path)


def _member_name(name: str) -> str:
    """AWS reports members in lower camel case: ``ProcessingInputs`` -> ``processingInputs``."""
    return name[:1].lower() + name[1:]


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


class _Validator:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, value: Any, path: list[str], constraint: str) -> None:
        self.errors.append(
            f"Value '{_describe(value)}' at '{_aws_path(path)}' failed to satisfy constraint: {constraint}"
        )

    def check(self, value: Any, shape: Shape, path: list[str]) -> None:
        kind = shape.type_name
        checker = getattr(self, f"_check_{kind}", None)
        if checker is None:
            return
        checker(value, shape, path)

    def _check_structure(self, value: Any, shape: Shape, path: list[str]) -> None:
        assert isinstance(shape, StructureShape)
        if not isinstance(value, Mapping):
            self.fail(value, path, "Member must be a structure")
            return
        for name in shape.required_members:
            if value.get(name) is None:
                self.errors.append(
                    f"Value null at '{_aws_path([*path, _member_name(name)])}' failed to satisfy "
                    "constraint: Member must not be null"
                )
        for name, member_value in value.items():
            member = shape.members.get(name)
            member_path = [*path, _member_name(name)]
            if member is None:
                self.errors.append(f"Unknown parameter '{_aws_path(member_path)}'")
                continue
            if member_value is not None:
                self.check(member_value, member, member_path)

    def _check_length(self, value: Any, length: int, shape: Shape, path: list[str], unit: str) -> None:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and length < low:
            self.fail(value, path, f"Member must have {unit} greater than or equal to {low}")
        if high is not None and length > high:
            self.fail(value, path, f"Member must have {unit} less than or equal to {high}")

    def _check_list(self, value: Any, shape: Shape, path: list[str]) -> None:
        assert isinstance(shape, ListShape)
        if not isinstance(value, list):
            self.fail(value, path, "Member must be a list")
            return
        self._check_length(value, len(value), shape, path, "length")
        for index, item in enumerate(value, start=1):
            self.check(item, shape.member, [*path, str(index), "member"])

    def _check_map(self, value: Any, shape: Shape, path: list[str]) -> None:
        assert isinstance(shape, MapShape)
        if not isinstance(value, Mapping):
            self.fail(value, path, "Member must be a map")
            return
        self._check_length(value, len(value), shape, path, "length")
        for key, item in value.items():
            self.check(key, shape.key, [*path, "key"])
            self.check(item, shape.value, [*path, str(key), "value"])

    def _check_string(self, value: Any, shape: Shape, path: list[str]) -> None:
        if not isinstance(value, str):
            self.fail(value, path, "Member must be a string")
            return
        self._check_length(value, len(value), shape, path, "length")
        enum = getattr(shape, "enum", None)
        if enum and value not in enum:
            self.fail(value, path, f"Member must satisfy enum value set: [{', '.join(enum)}]")
        pattern = shape.metadata.get("pattern")
        if pattern and compile_pattern(pattern).fullmatch(value) is None:
            self.fail(value, path, f"Member must satisfy regular expression pattern: {pattern}")

    def _check_number(self, value: Any, shape: Shape, path: list[str], integral: bool) -> None:
        valid_type = isinstance(value, int) if integral else isinstance(value, (int, float))
        if isinstance(value, bool) or not valid_type or (isinstance(value, float) and not math.isfinite(value)):
            self.fail(value, path, f"Member must be {'an integer' if integral else 'a number'}")
            return
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and value < low:
            self.fail(value, path, f"Member must have value greater than or equal to {low}")
        if high is not None and value > high:
            self.fail(value, path, f"Member must have value less than or equal to {high}")

    def _check_integer(self, value: Any, shape: Shape, path: list[str]) -> None:
        self._check_number(value, shape, path, integral=True)

    def _check_long(self, value: Any, shape: Shape, path: list[str]) -> None:
        self._check_number(value, shape, path, integral=True)

    def _check_float(self, value: Any, shape: Shape, path: list[str]) -> None:
        self._check_number(value, shape, path, integral=False)

    def _check_double(self, value: Any, shape: Shape, path: list[str]) -> None:
        self._check_number(value, shape, path, integral=False)

    def _check_boolean(self, value: Any, shape: Shape, path: list[str]) -> None:
        if not isinstance(value, bool):
            self.fail(value, path, "Member must be a boolean")

    def _check_timestamp(self, value: Any, shape: Shape, path: list[str]) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float, str, datetime.datetime)):
            self.fail(value, path, "Member must be a timestamp")


def validation_problems(operation: OperationModel, params: Any) -> list[str]:
    """Every way ``params`` breaks the operation's input shape (empty when valid)."""
    validator = _Validator()
    shape = operation.input_shape
    if shape is not None:
        validator.check(params, shape, [])
    return validator.errors


def validate_request(operation: OperationModel, params: Any) -> None:
    """Raise ``ValidationError`` listing every problem, in the shape AWS's message has."""
    problems = validation_problems(operation, params)
    if not problems:
        return
    count = len(problems)
    noun = "error" if count == 1 else "errors"
    shown = "; ".join(problems[:_MAX_ERRORS_LISTED])
    raise ValidationError(f"{count} validation {noun} detected: {shown}")
