"""Stops training when the checkpoint metric stops improving.

Config: ``patience`` (evaluations without an improvement larger than ``min_delta``
before stopping), ``min_delta``. The Trainer adds one automatically when
``TrainerConfig.early_stopping_patience`` is set; it reads the improvement bookkeeping
the Trainer keeps in ``TrainerState`` (so it survives checkpoint/resume).
"""

from __future__ import annotations

from medcat_den.training.callbacks import TrainerCallback
from medcat_den.training.state import TrainerControl, TrainerState


class EarlyStoppingCallback(TrainerCallback):
    """Requests a stop after ``patience`` evaluations without improvement."""

    def __init__(self, patience: int) -> None:
        self.patience = patience

    def on_evaluate(self, state: TrainerState, control: TrainerControl,
                    metrics: dict[str, float]) -> None:
        if state.evals_without_improvement >= self.patience:
            control.stop(f"early stopping: no improvement in {self.patience} evaluations")
