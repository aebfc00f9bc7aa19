"""The training loop that fits any :class:`TrainableComponent` on MedCATtrainer exports.

Config: a :class:`~medcat_den.training.config.TrainerConfig`; ``checkpoint_dir`` (``None``
= no checkpoints), ``callbacks``, ``cancel_token``, ``progress`` (add the default
tqdm/logging callback). ``fit(train, eval=None, resume_from=None)`` continues a
checkpointed run exactly: data order is a function of (seed, epoch), and the optimizer,
scheduler, RNG states and position are restored. With ``average_weights_after`` the run
ends with the mean of its last epochs' weights (:mod:`~medcat_den.training.weight_averaging`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medcat_den.errors import DenError, TrainingCanceledError, TrainingError
from medcat_den.training.callbacks import TrainerCallback
from medcat_den.training.cancellation import CancellationToken
from medcat_den.training.checkpoints import CheckpointManager, restore_rng
from medcat_den.training.config import TrainerConfig
from medcat_den.training.data import load_export, validate_export
from medcat_den.training.early_stopping import EarlyStoppingCallback
from medcat_den.training.progress import ProgressCallback
from medcat_den.training.protocol import TrainableComponent
from medcat_den.training.schedule import make_scheduler
from medcat_den.training.state import TrainerControl, TrainerState
from medcat_den.training.weight_averaging import WeightAverage, first_averaged_epoch

_log = logging.getLogger(__name__)

ExportLike = dict[str, Any] | str | os.PathLike[str]


@dataclass
class TrainResult:
    """What :meth:`Trainer.fit` returns."""

    metrics: dict[str, float]
    state: TrainerState
    best_checkpoint: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)


@contextlib.contextmanager
def _isolated_rng() -> Iterator[None]:
    """Evaluation must not move the training RNG streams (so eval frequency and
    resume points never change the training trajectory)."""
    py_state, np_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        try:
            yield
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class Trainer:
    """Fits a :class:`TrainableComponent` (see module docstring for the config)."""

    def __init__(self, component: TrainableComponent,
                 config: TrainerConfig | dict[str, Any] | None = None, *,
                 callbacks: list[TrainerCallback] | None = None,
                 checkpoint_dir: str | os.PathLike[str] | None = None,
                 cancel_token: CancellationToken | None = None,
                 progress: bool = True) -> None:
        if not isinstance(component, TrainableComponent):
            raise TrainingError(f"{type(component).__name__} does not implement the "
                                "TrainableComponent protocol")
        self.component = component
        self.config = TrainerConfig.from_any(config)
        self.cancel_token = cancel_token or CancellationToken()
        self.checkpoints = (CheckpointManager(checkpoint_dir, self.config.checkpoints_kept)
                            if checkpoint_dir is not None else None)
        self.callbacks: list[TrainerCallback] = []
        if progress:
            self.callbacks.append(ProgressCallback())
        if self.config.early_stopping_patience is not None:
            self.callbacks.append(EarlyStoppingCallback(self.config.early_stopping_patience))
        self.callbacks.extend(callbacks or [])
        self.state = TrainerState()
        self.control = TrainerControl()
        # the optimizer and scheduler of the running fit() (for save_checkpoint)
        self._live: tuple[torch.optim.Optimizer,
                          torch.optim.lr_scheduler.LRScheduler] | None = None
        self._average: WeightAverage | None = None

    # -- public -----------------------------------------------------------------------

    def fit(self, train_data: ExportLike, eval_data: ExportLike | None = None, *,
            resume_from: str | os.PathLike[str] | None = None) -> TrainResult:
        """Train; return the final metrics (after ``on_train_end``) and the state."""
        cfg = self.config
        train_export = load_export(train_data)
        validate_export(train_export, "training data")
        eval_export = load_export(eval_data) if eval_data is not None else None
        if eval_export is not None:
            validate_export(eval_export, "evaluation data")
        if cfg.num_threads is not None:
            torch.set_num_threads(cfg.num_threads)
        setter = getattr(self.component, "set_device", None)
        if cfg.device is not None and callable(setter):
            setter(cfg.device)

        _seed_everything(cfg.seed)
        examples = self._preprocess(train_export, "training data")
        eval_examples = (self._preprocess(eval_export, "evaluation data")
                         if eval_export is not None else None)

        optimizer = self.component.configure_optimizer(cfg.learning_rate, cfg.weight_decay)
        n_batches = math.ceil(len(examples) / cfg.batch_size)
        steps_per_epoch = math.ceil(n_batches / cfg.gradient_accumulation_steps)
        max_steps = steps_per_epoch * cfg.epochs
        scheduler = make_scheduler(optimizer, cfg, max_steps)
        self.state = TrainerState(max_steps=max_steps, steps_per_epoch=steps_per_epoch,
                                  num_epochs=cfg.epochs)
        self.control = TrainerControl()
        self._average = (
            WeightAverage(first_averaged_epoch(cfg.epochs, cfg.average_weights_after))
            if cfg.average_weights_after is not None else None)
        if resume_from is not None:
            self._resume(Path(resume_from), optimizer, scheduler)

        state = self.state
        self._call("on_train_begin")
        started = time.monotonic()
        try:
            self._live = (optimizer, scheduler)
            try:
                self._loop(examples, eval_export, eval_examples, optimizer, scheduler, started)
            finally:
                self._live = None
            if cfg.load_best_at_end and state.best_checkpoint:
                best = CheckpointManager.load(state.best_checkpoint)
                self.component.load_trainable_state_dict(best["trainable"])
            elif self._average is not None and self._average.apply(_parameters(optimizer)):
                epochs = self._average.epochs
                _log.info("final weights: the mean of the weights after epochs %d-%d",
                          epochs[0], epochs[-1])
                state.log_history.append({"epoch": epochs[-1], "averaged_epochs": list(epochs)})
            self.component.train(False)
            self.component.on_train_end()
            metrics: dict[str, float] = {}
            if eval_export is not None and eval_examples is not None:
                self._check_canceled()
                metrics = self._evaluate(eval_export, eval_examples)
                state.latest_metrics = metrics
            state.stop_reason = state.stop_reason or self.control.stop_reason
            self._call("on_train_end")
        except BaseException as err:
            self.component.train(False)
            for cb in self.callbacks:
                with contextlib.suppress(Exception):
                    cb.on_exception(state, self.control, err)
            raise
        return TrainResult(metrics=metrics, state=state, best_checkpoint=state.best_checkpoint,
                           history=list(state.log_history))

    def save_checkpoint(self) -> str | None:
        """Checkpoint the current step now, e.g. from a callback before stopping; returns
        the latest checkpoint (None without a checkpoint dir or outside the training loop)."""
        if self.checkpoints is None or self._live is None:
            return None
        self._save(*self._live, improved=False)
        latest = self.checkpoints.latest()
        return str(latest) if latest is not None else None

    def evaluate(self, eval_data: ExportLike) -> dict[str, float]:
        """Evaluate the component now (eval loss plus the component's metrics)."""
        export = load_export(eval_data)
        validate_export(export, "evaluation data")
        return self._evaluate(export, self._preprocess(export, "evaluation data"))

    # -- internals --------------------------------------------------------------------

    def _preprocess(self, export: dict[str, Any], what: str) -> list[Any]:
        try:
            examples = self.component.preprocess(export)
        except DenError:
            raise
        except Exception as err:  # the component names the problem; we say which input
            raise TrainingError(f"{what} rejected: {err}") from err
        if not examples:
            raise TrainingError(f"{what}: no usable training examples")
        return examples

    def _resume(self, path: Path, optimizer: torch.optim.Optimizer,
                scheduler: torch.optim.lr_scheduler.LRScheduler) -> None:
        ckpt = CheckpointManager.load(path)
        saved: TrainerState = ckpt["state"]
        if saved.steps_per_epoch != self.state.steps_per_epoch or \
                saved.num_epochs != self.state.num_epochs:
            raise TrainingError(
                f"checkpoint {path} was made with different data or settings "
                f"({saved.steps_per_epoch} steps/epoch x {saved.num_epochs} epochs, now "
                f"{self.state.steps_per_epoch} x {self.state.num_epochs})")
        self.component.load_trainable_state_dict(ckpt["trainable"])
        if self._average is not None and ckpt.get("averaged") is not None:
            try:
                self._average.load_state_dict(ckpt["averaged"], _parameters(optimizer))
            except ValueError as err:
                raise TrainingError(f"checkpoint {path}: {err}") from None
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        restore_rng(ckpt["rng"])
        saved.stop_reason = None
        self.state = saved
        _log.info("resuming from %s at step %d", path, saved.global_step)

    def _check_canceled(self) -> None:
        if self.cancel_token.canceled:
            raise TrainingCanceledError(f"training canceled at step {self.state.global_step}")

    def _call(self, hook: str, *args: Any) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(self.state, self.control, *args)

    def _loop(self, examples: list[Any], eval_export: dict[str, Any] | None,
              eval_examples: list[Any] | None, optimizer: torch.optim.Optimizer,
              scheduler: torch.optim.lr_scheduler.LRScheduler, started: float) -> None:
        cfg, state, control = self.config, self.state, self.control
        accum = cfg.gradient_accumulation_steps
        params = _parameters(optimizer)
        n = len(examples)
        self.component.train(True)
        for epoch in range(state.epoch, cfg.epochs):
            state.epoch = epoch
            gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + epoch)
            order = torch.randperm(n, generator=gen).tolist()
            batches = [order[i:i + cfg.batch_size] for i in range(0, n, cfg.batch_size)]
            if state.batches_in_epoch == 0:
                self._call("on_epoch_begin")
            group_losses: list[float] = []
            for bi in range(state.batches_in_epoch, len(batches)):
                self._check_canceled()
                group_start = bi - bi % accum
                group_size = min(accum, len(batches) - group_start)
                if bi == group_start:
                    self._call("on_step_begin")
                loss = self.component.forward(self.component.collate(
                    [examples[i] for i in batches[bi]]))
                if not torch.isfinite(loss):
                    raise TrainingError(f"loss is {loss.item()} at step {state.global_step} "
                                        f"(epoch {epoch + 1}); lower the learning rate")
                if loss.requires_grad:  # a batch with nothing to learn adds no gradient
                    (loss / group_size).backward()  # type: ignore[no-untyped-call]
                group_losses.append(float(loss.detach()))
                state.batches_in_epoch = bi + 1
                if bi + 1 - group_start < group_size:
                    continue
                if cfg.max_grad_norm is not None:
                    torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                state.global_step += 1
                state.latest_loss = sum(group_losses) / len(group_losses)
                group_losses = []
                state.log_history.append({"step": state.global_step, "epoch": epoch + 1,
                                          "loss": state.latest_loss,
                                          "lr": scheduler.get_last_lr()[0]})
                self._call("on_step_end")
                end_of_epoch = bi + 1 == len(batches)
                improved = False
                if eval_export is not None and eval_examples is not None and (
                        (cfg.eval_every_steps and state.global_step % cfg.eval_every_steps == 0)
                        or (end_of_epoch and cfg.eval_each_epoch)):
                    self._check_canceled()
                    improved = self._record_eval(self._evaluate(eval_export, eval_examples))
                    self.component.train(True)
                if end_of_epoch:
                    if self._average is not None:
                        self._average.epoch_ended(params, epoch + 1)
                    self._call("on_epoch_end")
                    state.epoch, state.batches_in_epoch = epoch + 1, 0
                if self.checkpoints is not None and (
                        improved
                        or (cfg.checkpoint_every_steps
                            and state.global_step % cfg.checkpoint_every_steps == 0)
                        or (end_of_epoch and cfg.checkpoint_each_epoch)):
                    self._save(optimizer, scheduler, improved)
                if cfg.time_limit_s is not None and time.monotonic() - started > cfg.time_limit_s:
                    control.stop(f"time limit of {cfg.time_limit_s:g} s reached")
                if control.should_stop:
                    state.stop_reason = control.stop_reason
                    return
            if state.epoch == epoch:  # the epoch ended on a partial accumulation group
                state.epoch, state.batches_in_epoch = epoch + 1, 0

    def _evaluate(self, export: dict[str, Any], examples: list[Any]) -> dict[str, float]:
        cfg = self.config
        with _isolated_rng(), torch.no_grad():
            self.component.train(False)
            losses = [float(self.component.forward(self.component.collate(
                examples[i:i + cfg.batch_size]))) for i in range(0, len(examples),
                                                                 cfg.batch_size)]
            metrics = {k: float(v) for k, v in self.component.evaluate(export).items()}
        metrics["eval_loss"] = sum(losses) / len(losses)
        return metrics

    def _record_eval(self, metrics: dict[str, float]) -> bool:
        cfg, state = self.config, self.state
        key = cfg.checkpoint_metric
        if key not in metrics:
            raise TrainingError(f"checkpoint_metric {key!r} is not among the evaluation "
                                f"metrics ({', '.join(sorted(metrics))})")
        state.latest_metrics = metrics
        improved = cfg.is_better(metrics[key], state.best_metric, cfg.early_stopping_min_delta)
        if improved:
            state.best_metric = metrics[key]
            state.evals_without_improvement = 0
        else:
            state.evals_without_improvement += 1
        state.log_history.append({"step": state.global_step, "epoch": state.epoch + 1,
                                  **{f"eval_{k}" if not k.startswith("eval_") else k: v
                                     for k, v in metrics.items()}})
        self._call("on_evaluate", metrics)
        return improved

    def _save(self, optimizer: torch.optim.Optimizer,
              scheduler: torch.optim.lr_scheduler.LRScheduler, improved: bool) -> None:
        assert self.checkpoints is not None
        state = self.state
        target = self.checkpoints.directory / f"checkpoint-{state.global_step}"
        if improved:
            state.best_checkpoint = str(target)
        path = self.checkpoints.save(
            self.component.trainable_state_dict(), optimizer, scheduler, state,
            self._average.state_dict() if self._average is not None else None)
        self.checkpoints.rotate(protect=state.best_checkpoint)
        self._call("on_save", str(path))


def _parameters(optimizer: torch.optim.Optimizer) -> list[torch.nn.Parameter]:
    return [p for group in optimizer.param_groups for p in group["params"]]
