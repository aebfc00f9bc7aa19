"""Learning-rate schedules with linear warm-up (linear / cosine decay or constant).

Config: taken from :class:`~medcat_den.training.config.TrainerConfig` (``lr_schedule``,
``warmup_steps`` / ``warmup_ratio``) and the run's total optimizer steps.
"""

from __future__ import annotations

import math

import torch
from torch.optim.lr_scheduler import LambdaLR

from medcat_den.training.config import TrainerConfig


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainerConfig,
                   total_steps: int) -> LambdaLR:
    """Return a LambdaLR for ``total_steps`` optimizer steps."""
    warmup = config.warmup_steps or int(config.warmup_ratio * total_steps)
    total = max(total_steps, 1)
    kind = config.lr_schedule

    def factor(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / (warmup + 1)
        if kind == "constant":
            return 1.0
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        if kind == "linear":
            return max(0.0, 1.0 - progress)
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return LambdaLR(optimizer, factor)
