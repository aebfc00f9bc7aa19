"""Stop a training run gracefully: finish the current step, checkpoint, then stop.

:class:`StopOnRequest` is a callback that, at the end of a step where ``should_stop()``
is true, saves a checkpoint (:meth:`~medcat_den.training.Trainer.save_checkpoint`), sets
the run's cancellation token and asks the loop to stop, so ``fit`` ends with the run
marked canceled and a checkpoint that ``resume_from=`` can continue. Config: none.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from medcat_den.training import CancellationToken, Trainer, TrainerCallback
from medcat_den.training.state import TrainerControl, TrainerState

_log = logging.getLogger(__name__)


class StopOnRequest(TrainerCallback):
    """Checkpoint and stop at the end of the first step where ``should_stop()``."""

    def __init__(self, trainer: Trainer, should_stop: Callable[[], bool],
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
        path = self._trainer.save_checkpoint() if self._save else None
        if path is not None:
            _log.info("stop requested: checkpoint of step %d at %s", state.global_step, path)
            if self._on_checkpoint is not None:
                self._on_checkpoint(path, state.global_step)
        self._token.cancel()
        control.stop("canceled")
