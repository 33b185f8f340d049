"""``report.json``: what the stage did and how much it cost, for the manifest and the email."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from splatflow.formats.ply import Splats
from splatflow.stages.compress.quality import QualityCheck


def attribute_rmse(original: Splats, decoded: Splats) -> dict[str, float]:
    """Root-mean-square error per attribute (same splat order; rotations compared up to sign)."""
    q = original.quats / np.linalg.norm(original.quats, axis=1, keepdims=True)
    sign = np.sign(np.sum(q * decoded.quats, axis=1, keepdims=True))
    pairs = {
        "means": (original.means, decoded.means),
        "scales": (original.scales, decoded.scales),
        "quats": (q * np.where(sign == 0, 1, sign), decoded.quats),
        "opacity": (1 / (1 + np.exp(-original.opacities)), 1 / (1 + np.exp(-decoded.opacities))),
        "sh_dc": (original.sh_dc, decoded.sh_dc),
        "sh_rest": (original.sh_rest, decoded.sh_rest),
    }
    return {
        name: float(np.sqrt(np.mean((a.astype(np.float64) - b) ** 2))) if a.size else 0.0
        for name, (a, b) in pairs.items()
    }


@dataclass
class CompressionReport:
    input_splats: int
    dropped_non_finite: int
    """Splats removed because a value was NaN or infinite."""
    pruned: int
    """Finite splats dropped as the least significant (the ``prune_fraction`` setting), after
    the floaters."""
    splats: int
    """Splats in the bundle."""
    sh_degree: int
    ply_bytes: int
    sog_bytes: int
    sog_entry_bytes: dict[str, int]
    sh_palette_size: int
    texel_order: str
    encode_seconds: float
    attribute_rmse: dict[str, float]
    quality: dict[str, Any] | None = None
    floaters: dict[str, Any] | None = None
    """The floaters removed before encoding (``stages.compress.floaters``): ``removed``, the
    ``photos`` that judged them, ``seconds``, and the held-out PSNR against the photos before and
    after (``held_out_psnr_before_db``, ``held_out_psnr_after_db``; ``None`` without held-out
    photos); ``None`` when the step did not run."""
    floaters_skipped: str | None = None
    """Why no floaters were looked for, when they were not."""
    background_splats: int | None = None
    """Splats kept but outside the subject the photos look at (sky, horizon), which never set the
    stills' framing; ``None`` when no cameras travel with the model."""
    quality_skipped: str | None = None
    """Why no render check ran, when it did not."""
    formats: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The other formats written beside the ``.sog`` (``spz``, ``glb``, ``tile``, and ``lod`` for a
    large model): file, bytes and render check."""
    lod_skipped: str | None = None
    """Why no streamed LOD bundle was written, when none was."""
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.ply_bytes / self.sog_bytes

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": round(self.ratio, 3)}

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=1), encoding="utf-8")


def quality_summary(check: QualityCheck) -> dict[str, Any]:
    return {
        "views": [asdict(v) for v in check.views],
        "mean_psnr_vs_original": check.mean_psnr_vs_original,
        "psnr_loss_db": check.psnr_loss_db,
    }
