"""Matching a chosen list of pairs: exactly those pairs, photo names with spaces included."""

from __future__ import annotations

import shutil
from pathlib import Path

import pycolmap

from splatflow.stages.sfm.pair_list import match_listed_pairs

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "sample" / "brighton_beach"
NAMES = ["flight 1/DJI_0018.JPG", "flight 1/DJI_0019.JPG", "DJI_0020.JPG"]


def test_exactly_the_listed_pairs_are_matched_and_names_with_spaces_are_kept(tmp_path: Path) -> None:
    images = tmp_path / "images"
    for name in NAMES:
        (images / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLE / Path(name).name, images / name)
    database = tmp_path / "database.db"
    extraction = pycolmap.FeatureExtractionOptions()
    extraction.sift.max_num_features = 512
    extraction.num_threads = 1
    pycolmap.extract_features(database, images, image_names=NAMES, extraction_options=extraction)

    matching = pycolmap.FeatureMatchingOptions()
    matching.num_threads = 1
    match_listed_pairs(database, {(NAMES[0], NAMES[1])}, matching, pycolmap.TwoViewGeometryOptions())

    with pycolmap.Database.open(database) as db:
        ids = {image.name: image.image_id for image in db.read_all_images()}
        assert set(ids) == set(NAMES)  # the stand-in names are gone again
        pair_ids, _ = db.read_two_view_geometries()
        matched = {tuple(sorted(pycolmap.pair_id_to_image_pair(pair_id))) for pair_id in pair_ids}
        assert matched == {tuple(sorted((ids[NAMES[0]], ids[NAMES[1]])))}
        assert db.read_matches(ids[NAMES[0]], ids[NAMES[1]]).shape[0] > 0
