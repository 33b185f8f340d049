"""When to train at which resolution, and when to stop.

Coarse-to-fine: early steps fit low frequencies at a fraction of the resolution, which is both
cheaper and steers densification toward structure before detail. Early stopping ends training
once held-out PSNR has plateaued, which on a GPU typically saves most of a 30k-step budget.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


def resolution_factor(step: int, coarse_levels: int, steps_per_level: int) -> float:
    """Scale of the training images at ``step``: 1/2^levels at first, doubling per stage."""
    remaining = max(0, coarse_levels - step // max(1, steps_per_level))
    return 0.5**remaining


@dataclass
class PlateauStopper:
    """Stops when the best PSNR of the last ``window`` evaluations beats the best before them by
    less than ``min_gain_db``."""

    window: int
    min_gain_db: float
    history: list[float] = field(default_factory=list)

    def record(self, psnr_db: float) -> None:
        self.history.append(psnr_db)

    def plateaued(self) -> bool:
        if len(self.history) <= self.window:
            return False
        before = max(self.history[: -self.window])
        recent = max(self.history[-self.window :])
        return recent - before < self.min_gain_db


@dataclass
class Budget:
    """The max-steps and max-minutes limits; ``started`` is shifted on resume by time already spent."""

    max_steps: int
    max_minutes: float
    started: float = field(default_factory=time.monotonic)

    def elapsed_minutes(self) -> float:
        return (time.monotonic() - self.started) / 60.0

    def progress(self, step: int) -> float:
        """How far along the run is, 0 to 1, by whichever budget runs out first: learning rates
        that anneal by it end their decay when the job ends, however many steps the machine's
        load allowed."""
        return min(1.0, max(step / max(1, self.max_steps), self.elapsed_minutes() / max(1e-9, self.max_minutes)))

    def exhausted_by(self, step: int) -> str | None:
        """Why training must stop at ``step`` (``max_steps``/``max_minutes``), or ``None``."""
        if step >= self.max_steps:
            return "max_steps"
        if self.elapsed_minutes() >= self.max_minutes:
            return "max_minutes"
        return None
