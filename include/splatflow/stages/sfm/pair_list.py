"""Match a chosen set of photo pairs with pycolmap, whatever characters the photos' names hold.

pycolmap matches listed pairs from a text file, one pair a line, and COLMAP splits each line at
its first space (``ReadImagePairsText`` in ``colmap/feature/pairing.cc``): a photo under
``flight 1/DCIM/`` cannot be named in it. Matches are stored by image id, not by name, so for the
length of the matching every image whose name holds a space is renamed in the database to a
name made of its id, and renamed back afterwards (also when matching fails), before anything
reads the images from disk by their names.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pycolmap

PAIR_LIST_NAME = "matched_pairs.txt"


def match_listed_pairs(
    database: Path,
    pairs: set[tuple[str, str]],
    matching: pycolmap.FeatureMatchingOptions,
    verification: pycolmap.TwoViewGeometryOptions,
) -> None:
    """Match and verify exactly ``pairs`` (photo names as the database holds them)."""
    with _names_without_spaces(database) as listed_name:
        pair_list = database.with_name(PAIR_LIST_NAME)
        lines = sorted(f"{listed_name[first]} {listed_name[second]}\n" for first, second in pairs)
        pair_list.write_text("".join(lines), encoding="utf-8")
        imported = pycolmap.ImportedPairingOptions()
        imported.match_list_path = str(pair_list)
        pycolmap.match_image_pairs(database, matching, imported, verification_options=verification)


@contextmanager
def _names_without_spaces(database: Path) -> Iterator[dict[str, str]]:
    """Each image's name as it can be listed; images whose names hold spaces renamed meanwhile."""
    with pycolmap.Database.open(database) as db:
        images = db.read_all_images()
    names = {image.name for image in images}
    aliases: dict[str, str] = {}
    for image in images:
        if " " in image.name:
            alias = f"image-{image.image_id}"
            while alias in names:  # a photo already named like that: make the stand-in longer
                alias += "_"
            aliases[image.name] = alias
    renamed = [image for image in images if image.name in aliases]
    _rename(database, renamed, aliases)
    try:
        yield {name: aliases.get(name, name) for name in names}
    finally:
        _rename(database, renamed, {alias: name for name, alias in aliases.items()})


def _rename(database: Path, images: list[pycolmap.Image], new_names: dict[str, str]) -> None:
    if not images:
        return
    with pycolmap.Database.open(database) as db:
        for image in images:
            stored = db.read_image(image.image_id)
            stored.name = new_names[stored.name]
            db.update_image(stored)
