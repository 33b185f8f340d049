"""Settings dataclasses survive SageMaker's string-to-string hyperparameters and container arguments."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

from splatflow.contract.hyperparameters import (
    HyperparameterError,
    from_container_arguments,
    from_hyperparameters,
    read_hyperparameters_file,
    to_container_arguments,
    to_hyperparameters,
)


@dataclass(frozen=True)
class Example:
    preset: Literal["preview", "standard", "high"] = "standard"
    max_steps: int = 30_000
    learning_rate: float = 1.6e-4
    require_cuda: bool = True
    note: str = ""
    max_minutes: float | None = None


def test_round_trip_through_hyperparameters_is_exact() -> None:
    original = Example("high", 7, 0.125, False, "a b", 12.5)
    encoded = to_hyperparameters(original)
    assert all(isinstance(v, str) for v in encoded.values())
    assert from_hyperparameters(Example, encoded) == original


def test_round_trip_through_container_arguments_is_exact() -> None:
    original = Example(max_minutes=None, note="--not-a-flag")
    arguments = to_container_arguments(original)
    assert arguments[:2] == ["--preset", "standard"]
    assert from_container_arguments(Example, arguments) == original


def test_missing_names_take_their_defaults() -> None:
    assert from_hyperparameters(Example, {"max_steps": "10"}) == Example(max_steps=10)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"max_step": "10"}, "unknown hyperparameter(s): max_step"),
        ({"max_steps": "ten"}, "max_steps='ten' is not an integer"),
        ({"learning_rate": "fast"}, "learning_rate='fast' is not a number"),
        ({"require_cuda": "maybe"}, "require_cuda='maybe' is not a boolean"),
        ({"preset": "ultra"}, "preset='ultra' is not one of preview, standard, high"),
    ],
)
def test_bad_values_are_named_in_the_error(values: dict[str, str], message: str) -> None:
    with pytest.raises(HyperparameterError, match=message.replace("(", r"\(").replace(")", r"\)")):
        from_hyperparameters(Example, values)


def test_arguments_must_come_in_pairs_of_flags() -> None:
    with pytest.raises(HyperparameterError, match="pairs"):
        from_container_arguments(Example, ["--preset"])
    with pytest.raises(HyperparameterError, match="expected an option"):
        from_container_arguments(Example, ["preset", "high"])


def test_hyperparameters_file_accepts_json_quoted_strings(tmp_path: Path) -> None:
    path = tmp_path / "hyperparameters.json"
    path.write_text(json.dumps({"preset": '"preview"', "max_steps": "5", "require_cuda": "false"}))
    assert read_hyperparameters_file(Example, path) == Example("preview", 5, require_cuda=False)


def test_missing_hyperparameters_file_means_defaults(tmp_path: Path) -> None:
    assert read_hyperparameters_file(Example, tmp_path / "absent.json") == Example()


def test_hyperparameters_file_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "hyperparameters.json"
    path.write_text("[1, 2]")
    with pytest.raises(HyperparameterError, match="JSON object"):
        read_hyperparameters_file(Example, path)
