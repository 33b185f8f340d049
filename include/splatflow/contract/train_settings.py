"""Settings of the 3DGS training stage, read once from ``hyperparameters.json``.

Part of the contract package (no torch): the pipeline turns the submission's preset and the
operator's ``SPLATFLOW_TRAIN_HYPERPARAMETERS`` into these settings, checked before any job starts,
and sends them as the Training job's ``HyperParameters``. Every tunable field defaults to
``None``, meaning "whatever the preset says"; ``with_preset_defaults`` fills them in, so a job
can name a preset and override just one knob.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal, TypeVar

Preset = Literal["preview", "standard", "high"]
DeviceChoice = Literal["cuda", "cpu"]
StrategyChoice = Literal["default", "mcmc"]
RasterizeMode = Literal["classic", "antialiased"]
T = TypeVar("T")


@dataclass(frozen=True)
class Settings:
    preset: Preset = "standard"
    """Named defaults for every field left unset (see PRESETS)."""
    device: DeviceChoice = "cuda"
    """Where to train. The training request sets it from the instance type; a ``cuda`` job whose
    CUDA cannot start fails within seconds, naming the driver, and never falls back to the CPU."""
    seed: int = 0
    cpu_threads: int = 0
    """PyTorch CPU threads; 0 leaves one core to the rest of the machine (see ``splatflow.render.threads``)."""
    holdout_every: int = 8
    """Every Nth photo (by name) is held out for evaluation and never trained on."""
    max_steps: int | None = None
    """Hard cap on optimisation steps."""
    max_minutes: float | None = None
    """Wall-clock budget; training stops (and still writes its model) when it runs out."""
    max_width: int | None = None
    """Photos wider than this are downscaled for training and evaluation."""
    coarse_levels: int | None = None
    """Progressive resolution: start at 1/2^levels of full size, halving the reduction ..."""
    steps_per_level: int | None = None
    """... every this many steps, until full resolution."""
    eval_every: int | None = None
    """Held-out PSNR is measured every this many steps (drives early stopping)."""
    plateau_window: int | None = None
    """Early stopping looks at the last this-many evaluations ..."""
    plateau_min_gain_db: float | None = None
    """... and stops when PSNR improved by less than this over them."""
    plateau_start_step: int | None = None
    """No early stop before this step: densification dips held-out PSNR for a while, which must
    not read as a plateau."""
    checkpoint_every: int | None = None
    """Steps between checkpoints in ``/opt/ml/checkpoints`` (resume after a spot interruption)."""
    sh_degree: int | None = None
    """Final spherical-harmonics degree (0 to 3), reached one degree per ``sh_increase_every``."""
    sh_increase_every: int | None = None
    strategy: StrategyChoice | None = None
    """gsplat densification: ``default`` (clone/split/prune) or ``mcmc`` (CUDA only, capped)."""
    max_gaussians: int | None = None
    """Cap on the number of Gaussians, held exactly: MCMC's cap, or the default strategy grows only
    into the room left under it (pruning and opacity resets go on at the cap)."""
    refine_start_step: int | None = None
    """Densification starts after this step (the initial Gaussians settle first) ..."""
    refine_stop_step: int | None = None
    """... and stops after this one (0: no densification, the SfM points are the Gaussians)."""
    learning_rate_scale: float | None = None
    """Multiplies the 3DGS paper's Adam rates for colour, scale and rotation. The paper's rates
    suit 30k steps; a schedule of a thousand steps needs larger ones to converge at all."""
    ssim_weight: float | None = None
    """Loss = (1 - w) * L1 + w * (1 - SSIM)."""
    rasterize_mode: RasterizeMode | None = None
    """gsplat's ``rasterize_mode``: ``antialiased`` (Mip-Splatting's 2D filter) makes a splat thinner
    than a pixel as faint as it is thin, so the model cannot fit detail with sub-pixel needles that
    turn into bright streaks at any other resolution; ``classic`` is the 3DGS paper's."""
    max_anisotropy: float | None = None
    """A Gaussian whose largest axis is more than this many times its smallest pays a penalty
    (as in PhysGaussian), which keeps needle-shaped splats out of the model ..."""
    anisotropy_weight: float | None = None
    """... of this weight times the mean, over all Gaussians, of how far ``log(largest / smallest)``
    passes ``log(max_anisotropy)`` (zero for a Gaussian within the ratio; weight 0: no penalty)."""
    progress_every: int | None = None
    """Steps between progress lines."""
    packed: bool = False
    """gsplat's packed layout (per visible Gaussian) for the rasterizer's output and the
    densification strategy alike: less GPU memory on large scenes, a little slower (gsplat's
    ``simple_trainer`` defaults to unpacked too)."""
    previews: int = 3
    """How many held-out views get a side-by-side preview image."""

    def with_preset_defaults(self) -> Settings:
        """A copy whose unset fields hold the preset's values."""
        preset = PRESETS[self.preset]
        filled = {f.name: getattr(preset, f.name) for f in dataclasses.fields(self) if getattr(self, f.name) is None}
        return dataclasses.replace(self, **filled)


PREVIEW = Settings(
    preset="preview",
    max_steps=3000,
    max_minutes=5.0,
    max_width=320,
    coarse_levels=1,
    steps_per_level=200,
    eval_every=100,
    plateau_window=3,
    plateau_min_gain_db=0.2,
    plateau_start_step=0,
    checkpoint_every=250,
    sh_degree=0,
    sh_increase_every=400,
    strategy="default",
    max_gaussians=12_000,
    refine_start_step=0,
    refine_stop_step=0,
    learning_rate_scale=8.0,
    ssim_weight=0.2,
    rasterize_mode="antialiased",
    max_anisotropy=4.0,
    anisotropy_weight=1.0,
    progress_every=50,
)
"""Minutes on a CPU: a first look, not a deliverable. Its needle cap is tighter than the GPU
presets' (4:1 at weight 1): at 10:1 and 0.1 the splats of a preview-length run kept star-shaped
streaks that the overview still shows (docs/benchmarks.md, "A demo worth showing")."""

STANDARD = Settings(
    preset="standard",
    max_steps=30_000,
    max_minutes=60.0,
    max_width=1600,
    coarse_levels=2,
    steps_per_level=1000,
    eval_every=500,
    plateau_window=4,
    plateau_min_gain_db=0.1,
    plateau_start_step=0,
    checkpoint_every=2000,
    sh_degree=3,
    sh_increase_every=1000,
    strategy="default",
    max_gaussians=3_000_000,
    refine_start_step=500,
    refine_stop_step=15_000,
    learning_rate_scale=1.0,
    ssim_weight=0.2,
    rasterize_mode="antialiased",
    max_anisotropy=10.0,
    anisotropy_weight=0.1,
    progress_every=200,
)
"""The 3DGS paper's schedule with early stopping; fits a T4 for typical drone jobs."""

HIGH = Settings(
    preset="high",
    max_steps=50_000,
    max_minutes=120.0,
    max_width=3200,
    coarse_levels=2,
    steps_per_level=2000,
    eval_every=1000,
    plateau_window=5,
    plateau_min_gain_db=0.05,
    plateau_start_step=0,
    checkpoint_every=2000,
    sh_degree=3,
    sh_increase_every=1000,
    strategy="mcmc",
    max_gaussians=4_000_000,
    refine_start_step=500,
    refine_stop_step=25_000,
    learning_rate_scale=1.0,
    ssim_weight=0.2,
    rasterize_mode="antialiased",
    max_anisotropy=10.0,
    anisotropy_weight=0.1,
    progress_every=500,
)
"""Full resolution, MCMC densification up to a Gaussian cap, a patient plateau test."""

PRESETS: dict[str, Settings] = {"preview": PREVIEW, "standard": STANDARD, "high": HIGH}


def preset_value(value: T | None) -> T:
    """A field of settings that went through ``with_preset_defaults`` (so is never ``None``)."""
    if value is None:
        raise ValueError("settings used before with_preset_defaults()")
    return value
