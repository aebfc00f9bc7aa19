"""Mutable progress of a training run, saved in every checkpoint.

Fields: ``epoch`` (0-based epoch in progress), ``batches_in_epoch`` (micro-batches of
that epoch already consumed), ``global_step`` (optimizer steps), ``max_steps``,
``steps_per_epoch``, ``latest_loss``, ``latest_metrics``, ``best_metric``,
``best_checkpoint``, ``evals_without_improvement``, ``log_history`` and
``stop_reason``. :class:`TrainerControl` is how callbacks ask the Trainer to stop.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class TrainerState:
    """Where a run is; serialisable with :meth:`to_dict` / :meth:`from_dict`."""

    epoch: int = 0
    batches_in_epoch: int = 0
    global_step: int = 0
    max_steps: int = 0
    steps_per_epoch: int = 0
    num_epochs: int = 0
    latest_loss: float | None = None
    latest_metrics: dict[str, float] = field(default_factory=dict)
    best_metric: float | None = None
    best_checkpoint: str | None = None
    evals_without_improvement: int = 0
    log_history: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainerState:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class TrainerControl:
    """Flags callbacks set to steer the loop; reset by the Trainer where needed."""

    should_stop: bool = False
    stop_reason: str | None = None

    def stop(self, reason: str) -> None:
        """Ask the Trainer to finish after the current step (a graceful, successful stop)."""
        if not self.should_stop:
            self.should_stop = True
            self.stop_reason = reason
