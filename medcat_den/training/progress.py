"""The default progress callback: a tqdm bar over optimizer steps plus log lines.

Config: ``desc`` (bar label), ``logger`` (defaults to ``medcat_den.training``). The bar
honours ``TQDM_DISABLE=1``.
"""

from __future__ import annotations

import logging

from tqdm.auto import tqdm

from medcat_den.training.callbacks import TrainerCallback
from medcat_den.training.state import TrainerControl, TrainerState

_log = logging.getLogger("medcat_den.training")


class ProgressCallback(TrainerCallback):
    """Shows a progress bar and logs every evaluation, checkpoint and stop."""

    def __init__(self, desc: str = "training", logger: logging.Logger | None = None) -> None:
        self._desc = desc
        self._log = logger or _log
        self._bar: tqdm[None] | None = None

    def on_train_begin(self, state: TrainerState, control: TrainerControl) -> None:
        self._bar = tqdm(total=state.max_steps, initial=state.global_step, desc=self._desc,
                         unit="step")
        self._log.info("training for %d epochs, %d optimizer steps (from step %d)",
                       state.num_epochs, state.max_steps, state.global_step)

    def on_step_end(self, state: TrainerState, control: TrainerControl) -> None:
        if self._bar is not None and not self._bar.disable:
            self._bar.update(state.global_step - self._bar.n)
            if state.latest_loss is not None:
                self._bar.set_postfix(loss=f"{state.latest_loss:.4f}", epoch=state.epoch + 1,
                                      refresh=False)

    def on_evaluate(self, state: TrainerState, control: TrainerControl,
                    metrics: dict[str, float]) -> None:
        shown = ", ".join(f"{k}={v:.4f}" for k, v in sorted(metrics.items()))
        self._log.info("step %d (epoch %d): %s", state.global_step, state.epoch + 1, shown)

    def on_save(self, state: TrainerState, control: TrainerControl, path: str) -> None:
        self._log.debug("checkpoint at step %d: %s", state.global_step, path)

    def on_train_end(self, state: TrainerState, control: TrainerControl) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        self._log.info("training ended at step %d%s", state.global_step,
                       f" ({state.stop_reason})" if state.stop_reason else "")

    def on_exception(self, state: TrainerState, control: TrainerControl,
                     error: BaseException) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
