"""Hooks into the training loop.

Subclass :class:`TrainerCallback` and override what you need; every hook receives the
:class:`~medcat_den.training.state.TrainerState` and a
:class:`~medcat_den.training.state.TrainerControl` (call ``control.stop(reason)`` to end
training gracefully). Hooks: train/epoch/step begin and end, ``on_evaluate`` (with the
metrics), ``on_save`` (with the checkpoint path) and ``on_exception``. Config: none.
"""

from __future__ import annotations

from typing import Any

from medcat_den.training.state import TrainerControl, TrainerState


class TrainerCallback:
    """No-op base class; the Trainer calls the hooks in registration order."""

    def on_train_begin(self, state: TrainerState, control: TrainerControl) -> None:
        pass

    def on_train_end(self, state: TrainerState, control: TrainerControl) -> None:
        pass

    def on_epoch_begin(self, state: TrainerState, control: TrainerControl) -> None:
        pass

    def on_epoch_end(self, state: TrainerState, control: TrainerControl) -> None:
        pass

    def on_step_begin(self, state: TrainerState, control: TrainerControl) -> None:
        pass

    def on_step_end(self, state: TrainerState, control: TrainerControl) -> None:
        pass

    def on_evaluate(self, state: TrainerState, control: TrainerControl,
                    metrics: dict[str, float]) -> None:
        pass

    def on_save(self, state: TrainerState, control: TrainerControl, path: str) -> None:
        pass

    def on_exception(self, state: TrainerState, control: TrainerControl,
                     error: BaseException) -> None:
        pass

    def __repr__(self) -> str:
        extra: dict[str, Any] = {}
        return f"{type(self).__name__}({extra or ''})"
