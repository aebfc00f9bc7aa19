"""Progress of a running job: the :class:`Progress` record and the Trainer callback that
sends it (throttled) to whoever watches the job (a job record, a pipe, a Ray job log).
Unset fields mean "unchanged".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict

from medcat_den.training import TrainerCallback, TrainerControl, TrainerState


class Progress(BaseModel):
    """One progress update (see module docstring)."""

    model_config = ConfigDict(frozen=True)

    phase: str | None = None
    epoch: int | None = None
    num_epochs: int | None = None
    step: int | None = None
    max_steps: int | None = None
    loss: float | None = None
    metrics: dict[str, float] | None = None

    def fields(self) -> dict[str, Any]:
        """The fields that are set (``loss`` counts as set once a step reported it)."""
        return self.model_dump(exclude_unset=True)


Report = Callable[[Progress], None]


def ignore(_progress: Progress) -> None:
    """A :data:`Report` that drops every update."""


class JobProgressCallback(TrainerCallback):
    """Forwards epoch, step, loss and metrics to ``report`` (at most every ``interval_s``)."""

    def __init__(self, report: Report, interval_s: float = 0.25) -> None:
        self._report = report
        self._interval_s = interval_s
        self._last = 0.0

    def _send(self, state: TrainerState, force: bool, **extra: Any) -> None:
        now = time.monotonic()
        if not force and now - self._last < self._interval_s:
            return
        self._last = now
        self._report(Progress(epoch=min(state.epoch + 1, state.num_epochs),
                              num_epochs=state.num_epochs, step=state.global_step,
                              max_steps=state.max_steps, loss=state.latest_loss, **extra))

    def on_train_begin(self, state: TrainerState, control: TrainerControl) -> None:
        self._send(state, True, phase="training")

    def on_step_end(self, state: TrainerState, control: TrainerControl) -> None:
        self._send(state, False)

    def on_evaluate(self, state: TrainerState, control: TrainerControl,
                    metrics: dict[str, float]) -> None:
        self._send(state, True, metrics=metrics)

    def on_train_end(self, state: TrainerState, control: TrainerControl) -> None:
        self._send(state, True)
