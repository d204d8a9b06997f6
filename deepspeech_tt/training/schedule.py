"""Learning-rate schedule: linear warm-up to the peak, then cosine decay (one cycle by steps).

The schedule is a ``LambdaLR`` over a small callable object rather than a closure, so its state
(plain numbers) is saved with the scheduler and a checkpoint stays loadable with
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


class WarmupCosine:
    """The learning-rate factor at each optimiser step.

    Rises linearly from ``1 / div_factor`` to 1 over the first ``warmup`` fraction of
    ``total_steps``, then falls along a cosine to ``final_ratio`` at the last step (as
    ``torch.optim.lr_scheduler.OneCycleLR``, without its momentum cycling).

    Args:
        total_steps: optimiser steps in the whole run.
        warmup: fraction of them spent warming up, in [0, 1).
        final_ratio: the factor at the last step.
        div_factor: the peak over the first step's learning rate.
    """

    def __init__(
        self, total_steps: int, warmup: float, final_ratio: float, div_factor: float = 25.0
    ) -> None:
        if total_steps < 1 or not 0.0 <= warmup < 1.0:
            raise ValueError(f"need total_steps >= 1 and warmup in [0, 1), got {total_steps}, "
                             f"{warmup}")  # fmt: skip
        self.total_steps = total_steps
        self.warmup_steps = int(round(warmup * total_steps))
        self.final_ratio = final_ratio
        self.start_ratio = 1.0 / div_factor

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.start_ratio + (1.0 - self.start_ratio) * step / self.warmup_steps
        decay_steps = max(self.total_steps - self.warmup_steps, 1)
        progress = min((step - self.warmup_steps) / decay_steps, 1.0)
        cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
        return self.final_ratio + (1.0 - self.final_ratio) * cosine


def warmup_cosine(
    optimizer: Optimizer, total_steps: int, warmup: float, final_ratio: float
) -> LambdaLR:
    """A scheduler stepped once per optimiser step that follows ``WarmupCosine``."""
    return LambdaLR(optimizer, WarmupCosine(total_steps, warmup, final_ratio))
