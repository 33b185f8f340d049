"""The registration check: the configured share of photos, never fewer than the minimum."""

from __future__ import annotations

from pathlib import Path

import pytest

from splatflow.contract.sfm_settings import Settings
from splatflow.stages.harness import FailureCode, StageError
from splatflow.stages.sfm import mapping
from splatflow.stages.sfm.mapping import check_registration, required_registered
from splatflow.stages.sfm.unpack import SkippedFile


def test_seventy_percent_and_at_least_three_photos_are_required_by_default() -> None:
    assert required_registered(100, Settings()) == 70
    assert required_registered(29, Settings()) == 21
    assert required_registered(3, Settings()) == 3


def test_the_requirement_is_configurable() -> None:
    assert required_registered(100, Settings(min_registered_fraction=0.9)) == 90
    assert required_registered(4, Settings(min_registered_photos=5)) == 5


def test_enough_registered_photos_pass() -> None:
    check_registration(registered=21, decoded=29, models=1, settings=Settings())


def test_too_few_registered_photos_fail_naming_the_split_into_groups() -> None:
    with pytest.raises(StageError, match=r"only 12 of 29 photos .* \(at least 21 needed\); they fell into 3"):
        check_registration(registered=12, decoded=29, models=3, settings=Settings())


def test_photos_removed_as_badly_placed_count_against_the_requirement_and_are_named() -> None:
    removed = [SkippedFile(f"IMG_{index}.jpg", "removed from the model: ...") for index in range(7)]
    expected = r"only 20 of 29 .*; 7 placed badly were removed \(IMG_0.jpg, .*IMG_4.jpg and 2 more\)"
    with pytest.raises(StageError, match=expected) as raised:
        check_registration(registered=20, decoded=29, models=1, settings=Settings(), removed=removed)
    assert raised.value.code is FailureCode.NO_OVERLAP


class FakeModel:
    """Just enough of a ``pycolmap.Reconstruction`` for the mapper choice."""

    def __init__(self, registered: int) -> None:
        self.registered = registered

    def num_reg_images(self) -> int:
        return self.registered

    def num_points3D(self) -> int:  # noqa: N802 - pycolmap's name
        return 100 * self.registered


Attempt = tuple[str, int]


def fake_mappers(monkeypatch: pytest.MonkeyPatch, results: dict[str | Attempt, dict[int, FakeModel]]) -> list[Attempt]:
    """Each mapper's models, by mapper or by (mapper, seed); the attempts made, in order."""
    calls: list[Attempt] = []

    def run(mapper: str, seed: int, *_: object) -> dict[int, FakeModel]:
        calls.append((mapper, seed))
        return results.get((mapper, seed), results.get(mapper, {}))

    monkeypatch.setattr(mapping, "_run_mapper", run)
    return calls


def test_a_collapsed_global_model_is_mapped_again_with_the_next_seed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls = fake_mappers(monkeypatch, {("global", 0): {}, ("global", 1): {0: FakeModel(29)}})
    result = mapping.map_photos(tmp_path / "db", tmp_path, tmp_path, 29, Settings(), "sfm")
    assert calls == [("global", 0), ("global", 1)]
    assert (result.mapper, result.seed, result.reconstruction.num_reg_images()) == ("global", 1, 29)
    assert result.fallback_reason is not None
    assert result.fallback_reason.startswith("global mapper with seed 0: no 3D model")


def test_the_seeds_start_at_the_configured_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls = fake_mappers(monkeypatch, {"global": {}, "incremental": {}})
    with pytest.raises(StageError, match="no 3D model"):
        mapping.map_photos(tmp_path / "db", tmp_path, tmp_path, 29, Settings(random_seed=7, mapper_attempts=2), "sfm")
    assert calls == [("global", 7), ("global", 8), ("incremental", 7)]


def test_a_failed_global_model_falls_back_to_the_incremental_mapper(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls = fake_mappers(monkeypatch, {"global": {}, "incremental": {0: FakeModel(9), 1: FakeModel(27)}})
    result = mapping.map_photos(tmp_path / "db", tmp_path, tmp_path, 29, Settings(), "sfm")
    assert calls == [("global", 0), ("global", 1), ("global", 2), ("incremental", 0)]
    assert (result.mapper, result.models, result.reconstruction.num_reg_images()) == ("incremental", 2, 27)
    assert result.fallback_reason is not None
    assert result.fallback_reason.startswith("global mapper with seed 0: no 3D model")


def test_a_good_first_model_needs_no_fallback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls = fake_mappers(monkeypatch, {"global": {0: FakeModel(29)}})
    result = mapping.map_photos(tmp_path / "db", tmp_path, tmp_path, 29, Settings(), "sfm")
    assert calls == [("global", 0)]
    assert (result.mapper, result.seed, result.fallback_reason) == ("global", 0, None)


def test_when_both_mappers_fail_the_first_reason_is_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls = fake_mappers(monkeypatch, {("global", 0): {0: FakeModel(5)}})
    with pytest.raises(StageError, match="only 5 of 29 photos"):
        mapping.map_photos(tmp_path / "db", tmp_path, tmp_path, 29, Settings(), "sfm")
    assert calls == [("global", 0), ("global", 1), ("global", 2), ("incremental", 0)]


def test_the_fallback_can_be_switched_off(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls = fake_mappers(monkeypatch, {"incremental": {}})
    settings = Settings(mapper="incremental", mapper_fallback=False)
    with pytest.raises(StageError, match="no 3D model"):
        mapping.map_photos(tmp_path / "db", tmp_path, tmp_path, 29, settings, "sfm")
    assert calls == [("incremental", 0), ("incremental", 1), ("incremental", 2)]
