"""Stop a training run gracefully: finish the current step, checkpoint, then stop.

:class:`GracefulTrainer` is the :class:`~medcat_den.training.Trainer` with a public
:meth:`~GracefulTrainer.save_checkpoint_now` (the Trainer keeps its optimizer and
scheduler private to ``fit``). :class:`StopOnRequest` is a callback that, at the end of
a step where ``should_stop()`` is true, saves a checkpoint, sets the run's cancellation
token and asks the loop to stop, so ``fit`` ends with the run marked canceled and a
checkpoint that ``resume_from=`` can continue. Config: none.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import torch

from medcat_den.training import CancellationToken, Trainer, TrainerCallback
from medcat_den.training.state import TrainerControl, TrainerState

_log = logging.getLogger(__name__)


class GracefulTrainer(Trainer):
    """A Trainer that can write a checkpoint on demand during ``fit``."""

    _live: tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler] | None = None

    def _loop(self, *args: Any, **kwargs: Any) -> None:
        # the loop receives the optimizer and scheduler that fit() built; keep them
        values = [*args, *kwargs.values()]
        optimizer = next(v for v in values if isinstance(v, torch.optim.Optimizer))
        scheduler = next(v for v in values
                         if isinstance(v, torch.optim.lr_scheduler.LRScheduler))
        self._live = (optimizer, scheduler)
        try:
            super()._loop(*args, **kwargs)
        finally:
            self._live = None

    def save_checkpoint_now(self) -> str | None:
        """Checkpoint the current step (None without a checkpoint dir or outside fit)."""
        if self.checkpoints is None or self._live is None:
            return None
        self._save(*self._live, improved=False)
        latest = self.checkpoints.latest()
        return str(latest) if latest is not None else None


class StopOnRequest(TrainerCallback):
    """Checkpoint and stop at the end of the first step where ``should_stop()``."""

    def __init__(self, trainer: GracefulTrainer, should_stop: Callable[[], bool],
                 token: CancellationToken, *, save: bool = True,
                 on_checkpoint: Callable[[str, int], None] | None = None) -> None:
        self._trainer = trainer
        self._should_stop = should_stop
        self._token = token
        self._save = save
        self._on_checkpoint = on_checkpoint

    def on_step_end(self, state: TrainerState, control: TrainerControl) -> None:
        if self._token.canceled or not self._should_stop():
            return
        path = self._trainer.save_checkpoint_now() if self._save else None
        if path is not None:
            _log.info("stop requested: checkpoint of step %d at %s", state.global_step, path)
            if self._on_checkpoint is not None:
                self._on_checkpoint(path, state.global_step)
        self._token.cancel()
        control.stop("canceled")
