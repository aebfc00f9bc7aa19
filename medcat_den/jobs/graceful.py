"""Stopping a Ray training job gracefully.

:class:`GracefulStop` is what SIGTERM (Ray's ``stop_job``) means in each phase of a job:
raise before training, stop the loop during training (after a checkpoint), nothing once
the push has begun, so a model is never half-published. :class:`StopOnRequest` is the
Trainer callback that, at the end of a step where ``should_stop()`` is true, saves a
checkpoint (:meth:`~medcat_den.training.Trainer.save_checkpoint`), sets the run's
cancellation token and asks the loop to stop, so ``fit`` ends with the run marked canceled
and a checkpoint that ``resume_from=`` can continue. Config: none.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import FrameType

from medcat_den.errors import TrainingCanceledError
from medcat_den.training import CancellationToken, Trainer, TrainerCallback
from medcat_den.training.state import TrainerControl, TrainerState

_log = logging.getLogger(__name__)


class GracefulStop:
    """What SIGTERM means in each phase (see module docstring)."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        self.phase = "loading"
        self._lock = threading.Lock()
        self.on_request: Callable[[], bool] | None = None  # e.g. tell data-parallel workers

    def request(self) -> bool:
        """Ask to stop; False if too late (the push has begun)."""
        with self._lock:
            if self.phase == "pushing":
                return False
            if self.on_request is not None and not self.on_request():
                return False
            self.requested.set()
            return True

    def begin_push(self) -> bool:
        """Enter the pushing phase unless a stop was requested first."""
        with self._lock:
            if self.requested.is_set():
                return False
            self.phase = "pushing"
            return True

    def set_phase(self, phase: str) -> None:
        with self._lock:
            if self.phase != "pushing":
                self.phase = phase

    def handle_sigterm(self, signum: int, frame: FrameType | None) -> None:
        if not self.request():
            _log.warning("stop requested while pushing the result: finishing the push")
            return
        _log.warning("stop requested (signal %d) in phase %s", signum, self.phase)
        if self.phase == "loading":
            raise TrainingCanceledError("training canceled before it started")


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
