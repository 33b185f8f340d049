"""Sizes read the same wherever a person sees them."""

from __future__ import annotations

import pytest

from splatflow.units import format_size


@pytest.mark.parametrize(
    ("size", "text"),
    [(512, "512 bytes"), (2_500, "2.5 kB"), (66_300, "66.3 kB"), (59_000_000, "59.0 MB"), (3_200_000_000, "3.2 GB")],
)
def test_sizes_read_in_decimal_units(size: int, text: str) -> None:
    assert format_size(size) == text
