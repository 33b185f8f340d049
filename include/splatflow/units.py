"""How a size reads to a person, in one place: the result email and the viewer page show the same
file, so they must give it the same figure (decimal units: 66.3 kB is 66,300 bytes)."""

from __future__ import annotations


def format_size(size: float) -> str:
    """Bytes in the largest decimal unit under which the figure stays at or above 1, one decimal."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{int(size)} bytes"
