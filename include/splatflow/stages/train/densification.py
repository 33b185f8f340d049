"""The 3DGS paper's densification with ``max_gaussians`` held as an exact cap.

gsplat's ``DefaultStrategy`` (1.5.3, ``gsplat/strategy/default.py``) has no cap: every Gaussian
whose averaged screen-space gradient passes ``grow_grad2d`` is duplicated (small ones) or split
(large ones), each adding one Gaussian, so a refine step can add as many Gaussians as there are.
Stopping refinement when the count reaches the cap would also stop the pruning and the opacity
resets that run in the same hook, for the rest of the run.

``CappedDefaultStrategy`` keeps gsplat's growth, pruning and bookkeeping and only narrows, at each
refine step, the candidates to grow to the ``room`` left under the cap: those with the largest
averaged gradient (the paper's own measure of where detail is missing). Pruning after growth can
only lower the count, so it never passes the cap; at the cap refinement keeps pruning, and
freed room is grown into at the next refine step.

It also runs the periodic opacity reset. In gsplat 1.5.3 the reset's condition reads
``step % self.reset_every == 0 & step > 0``; ``&`` binds tighter than the comparisons, so it is the
chain ``step % reset_every == 0 > 0``, which is never true, and the reset never happens. The
paper's reference code (graphdeco-inria ``train.py``: ``iteration % opacity_reset_interval == 0``
while densifying) resets every ``reset_every`` steps within the refine window, as done here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from gsplat.strategy import DefaultStrategy
from gsplat.strategy.ops import reset_opa
from torch import Tensor


@dataclass
class CappedDefaultStrategy(DefaultStrategy):
    """``DefaultStrategy`` that never holds more than ``cap_max`` Gaussians after a refine step."""

    cap_max: int = 1_000_000

    def opacity_reset_due(self, step: int) -> bool:
        """The paper's reset: every ``reset_every`` steps, inside the refine window."""
        return 0 < step < self.refine_stop_iter and step % self.reset_every == 0

    def step_post_backward(
        self,
        params: dict[str, torch.nn.Parameter] | torch.nn.ParameterDict,
        optimizers: dict[str, torch.optim.Optimizer],
        state: dict[str, Any],
        step: int,
        info: dict[str, Any],
        packed: bool = False,
    ) -> None:
        reset_due = self.opacity_reset_due(step)
        super().step_post_backward(params, optimizers, state, step, info, packed=packed)
        if reset_due:
            reset_opa(params=params, optimizers=optimizers, state=state, value=self.prune_opa * 2.0)

    def growth_candidates(self, params: dict[str, Tensor], state: dict[str, Any], step: int) -> Tensor:
        """The mask gsplat's ``_grow_gs`` duplicates or splits: a high averaged gradient, or (while
        ``refine_scale2d_stop_iter`` lasts) a large screen radius."""
        grads = state["grad2d"] / state["count"].clamp_min(1)
        candidates = grads > self.grow_grad2d
        if step < self.refine_scale2d_stop_iter:
            candidates |= state["radii"] > self.grow_scale2d
        return candidates

    @torch.no_grad()
    def _grow_gs(
        self,
        params: dict[str, torch.nn.Parameter] | torch.nn.ParameterDict,
        optimizers: dict[str, torch.optim.Optimizer],
        state: dict[str, Any],
        step: int,
    ) -> tuple[int, int]:
        """gsplat's growth restricted to the ``room`` under the cap (largest gradients first).

        The statistics of the candidates left out are zeroed so gsplat's own test passes them over;
        gsplat zeroes all statistics right after each refine step anyway, so nothing else reads them.
        """
        room = max(0, self.cap_max - len(params["means"]))
        candidates = self.growth_candidates(dict(params), state, step)
        if int(candidates.sum()) > room:
            grads = state["grad2d"] / state["count"].clamp_min(1)
            ranked = torch.where(candidates, grads, torch.full_like(grads, -torch.inf))
            chosen = torch.zeros_like(candidates)
            chosen[torch.topk(ranked, room).indices] = True
            left_out = candidates & ~chosen
            state["grad2d"][left_out] = 0.0
            if "radii" in state and state["radii"] is not None:
                state["radii"][left_out] = 0.0
        n_duplicated, n_split = super()._grow_gs(params, optimizers, state, step)
        return int(n_duplicated), int(n_split)
