"""gsplat's alpha rules, shared by binning (which drops pairs that cannot matter) and compositing.

Alpha is clamped to 0.999, contributions below 1/255 are skipped, and a pixel stops before the
Gaussian that would bring its transmittance to 1e-4 or below; following the CUDA kernel here is
what makes both rasterizers render the same image.
"""

from __future__ import annotations

ALPHA_MAX = 0.999
ALPHA_MIN = 1.0 / 255.0
TRANSMITTANCE_MIN = 1e-4
