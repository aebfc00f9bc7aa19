"""Data-parallel training inside one Ray job: Ray Train's TorchTrainer, gloo on CPU.

Each of ``num_workers`` workers runs :func:`train_worker`: the one training run
(:func:`~medcat_den.jobs.run.run_training`) with the TrainableComponent wrapped in
:class:`DataParallelComponent`, on its shard with ``batch_size // num_workers``
examples per batch. Before every optimizer step the gradients are averaged across workers
in one all-reduce (and clipped afterwards with the configured ``max_grad_norm``), so each
step equals a single-worker step on the global batch. The same all-reduce carries a
"stop requested" flag, so every worker stops after the same step (rank 0 checkpoints).
Rank 0 saves the pack and pushes it to the den; a small coordinator actor decides whether
a stop or the push came first. Spec keys used here besides the single-worker ones:
``num_workers``, ``worker_resources``.
"""

from __future__ import annotations

import logging
import shutil
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import torch

from medcat_den.errors import TrainingCanceledError, TrainingError
from medcat_den.jobs.graceful import GracefulStop, StopOnRequest
from medcat_den.jobs.outcome import JobOutcome, PushedModel
from medcat_den.jobs.progress import Progress, ignore
from medcat_den.jobs.push import push_result
from medcat_den.jobs.ray_markers import emit_checkpoint, emit_progress
from medcat_den.jobs.run import RunHooks, error_message, run_training
from medcat_den.jobs.spec import JobSpec
from medcat_den.training import CancellationToken, TrainableComponent, Trainer, TrainerCallback

_log = logging.getLogger(__name__)
_STOP_POLL_S = 0.5


class DataParallelComponent:
    """A TrainableComponent that trains on its shard and averages gradients (see module)."""

    def __init__(self, inner: Any, train_export: dict[str, Any], rank: int, world: int,
                 max_grad_norm: float | None, stop_requested: Callable[[], bool]) -> None:
        self.inner = inner
        self._train_export = train_export
        self.rank = rank
        self.world = world
        self._max_grad_norm = max_grad_norm
        self._stop_requested = stop_requested
        self._last_poll = 0.0
        self._local_stop = False
        self.stop_agreed = False

    def __getattr__(self, name: str) -> Any:  # optional extras (set_device, ...)
        return getattr(self.inner, name)

    def broadcast_initial_state(self) -> None:
        """Start every worker from rank 0's weights."""
        import torch.distributed as dist

        state = self.inner.trainable_state_dict()
        for value in state.values():
            if isinstance(value, torch.Tensor):
                dist.broadcast(value, src=0)
        self.inner.load_trainable_state_dict(state)

    def preprocess(self, export: dict[str, Any]) -> list[Any]:
        examples = self.inner.preprocess(export)
        if export is not self._train_export:
            return list(examples)  # evaluation data: every worker sees all of it
        per_worker = len(examples) // self.world
        if per_worker == 0:
            raise TrainingError(f"training data: {len(examples)} examples cannot be shared "
                                f"by {self.world} workers")
        # equal shards, so every worker takes the same number of steps
        return list(examples[self.rank::self.world][:per_worker])

    def collate(self, items: list[Any]) -> Any:
        return self.inner.collate(items)

    def forward(self, batch: Any) -> torch.Tensor:
        return self.inner.forward(batch)  # type: ignore[no-any-return]

    def configure_optimizer(self, lr: float, weight_decay: float) -> torch.optim.Optimizer:
        optimizer: torch.optim.Optimizer = self.inner.configure_optimizer(lr, weight_decay)
        optimizer.register_step_pre_hook(self._sync)
        return optimizer

    def _sync(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        import torch.distributed as dist

        now = time.monotonic()
        if not self._local_stop and now - self._last_poll >= _STOP_POLL_S:
            self._last_poll = now
            self._local_stop = bool(self._stop_requested())
        params = [p for group in optimizer.param_groups for p in group["params"]]
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = torch.cat([g.reshape(-1) for g in grads]
                         + [torch.tensor([1.0 if self._local_stop else 0.0],
                                         dtype=grads[0].dtype if grads else torch.float32)])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        self.stop_agreed = bool(flat[-1] > 0)
        offset = 0
        for p, g in zip(params, grads, strict=True):
            n = g.numel()
            p.grad = (flat[offset:offset + n] / self.world).view_as(p).to(p.dtype)
            offset += n
        if self._max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(params, self._max_grad_norm)

    def trainable_state_dict(self) -> dict[str, Any]:
        return self.inner.trainable_state_dict()  # type: ignore[no-any-return]

    def load_trainable_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.inner.load_trainable_state_dict(state_dict)

    def evaluate(self, export: dict[str, Any]) -> dict[str, float]:
        return self.inner.evaluate(export)  # type: ignore[no-any-return]

    def on_train_end(self) -> None:
        self.inner.on_train_end()

    def train(self, mode: bool) -> object:
        return self.inner.train(mode)


def _coordinator_class() -> Any:
    import ray

    @ray.remote(num_cpus=0)
    class Coordinator:
        """Decides atomically whether a stop or rank 0's push came first."""

        def __init__(self) -> None:
            self.stop = False
            self.pushing = False
            self.result: str | None = None

        def request_stop(self) -> bool:
            if self.pushing:
                return False
            self.stop = True
            return True

        def stop_requested(self) -> bool:
            return self.stop

        def begin_push(self) -> bool:
            if self.stop:
                return False
            self.pushing = True
            return True

        def set_result(self, result: str) -> None:
            self.result = result

        def get_result(self) -> str | None:
            return self.result

    return Coordinator


def train_worker(spec: JobSpec, rank: int, world: int, stop_requested: Callable[[], bool],
                 begin_push: Callable[[], bool]) -> JobOutcome | None:
    """One worker's part of the run, inside an initialised ``torch.distributed`` group:
    :func:`~medcat_den.jobs.run.run_training` on this rank's shard. Rank 0 checkpoints,
    reports progress and saves the pack (if ``begin_push()``); the others return None,
    as does every rank when the run was stopped."""
    config = spec.trainer_config
    holder: list[DataParallelComponent] = []

    def wrap(component: TrainableComponent, train_export: dict[str, Any]) -> TrainableComponent:
        dp = DataParallelComponent(component, train_export, rank, world, config.max_grad_norm,
                                   stop_requested)
        dp.broadcast_initial_state()
        holder.append(dp)
        return dp

    def stop_callbacks(trainer: Trainer, token: CancellationToken) -> list[TrainerCallback]:
        return [StopOnRequest(trainer, lambda: holder[0].stop_agreed, token, save=rank == 0,
                              on_checkpoint=emit_checkpoint)]

    hooks = RunHooks(
        report=emit_progress if rank == 0 else ignore, progress_interval_s=1.0,
        report_progress=rank == 0, progress_bar=rank == 0, checkpoints=rank == 0,
        scratch=spec.scratch_dir() / f"rank{rank}", wrap=wrap,
        worker_config=lambda c: c.model_copy(update={
            "batch_size": max(1, c.batch_size // world), "max_grad_norm": None}),
        callbacks=stop_callbacks, may_save=lambda: rank == 0 and begin_push(),
        recorded_config={"num_workers": world})
    try:
        return run_training(spec, hooks)
    except TrainingCanceledError:
        return None


def _worker_loop(config: dict[str, Any]) -> None:
    """Ray Train ``train_loop_per_worker``: :func:`train_worker`, then rank 0 pushes."""
    import ray
    import ray.train

    spec, coord = JobSpec.model_validate_json(config["spec"]), config["coord"]
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    outcome = train_worker(spec, rank, world,
                           lambda: bool(ray.get(coord.stop_requested.remote())),
                           lambda: bool(ray.get(coord.begin_push.remote())))
    if outcome is None:
        return
    emit_progress(Progress(phase="pushing"))
    info = push_result(spec, outcome)
    shutil.rmtree(spec.scratch_dir(create=False) / f"rank{rank}" / "output",
                  ignore_errors=True)
    ray.get(coord.set_result.remote(PushedModel(
        model_id=info.model_id, ref=info.ref, metrics=outcome.metrics, steps=outcome.steps,
        epochs_completed=outcome.epochs_completed, num_workers=world).model_dump_json()))


def _root_cause(err: BaseException) -> str:
    failures = getattr(err, "worker_failures", None) or getattr(
        getattr(err, "worker_group_error", None), "worker_failures", None)
    if isinstance(failures, dict) and failures:
        first = next(iter(failures.values()))
        cause = getattr(first, "cause", None) or first
        return error_message(cause) if isinstance(cause, BaseException) else str(cause)
    return f"{type(err).__name__}: {err}"


def run_data_parallel(spec: JobSpec, stop: GracefulStop) -> PushedModel:
    """Driver side: start the workers, relay a stop, return the pushed model's info."""
    import ray
    from ray.train import FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    ray.init(log_to_driver=True)
    # ray.init replaces the SIGTERM handler with sys.exit: restore the graceful one
    signal.signal(signal.SIGTERM, stop.handle_sigterm)
    coord = _coordinator_class().remote()
    relay = threading.Event()

    def forward_stop() -> None:
        relay.wait()
        if not ray.get(coord.request_stop.remote()):
            _log.warning("stop arrived after rank 0 began pushing: finishing the push")

    threading.Thread(target=forward_stop, daemon=True).start()

    def on_request() -> bool:
        relay.set()
        return True

    stop.on_request = on_request
    if stop.requested.is_set():
        raise TrainingCanceledError("training canceled before it started")
    workers = spec.num_workers
    resources = dict(spec.worker_resources or {"CPU": 1.0})
    trainer = TorchTrainer(
        _worker_loop, train_loop_config={"spec": spec.model_dump_json(), "coord": coord},
        torch_config=TorchConfig(backend="gloo"),
        scaling_config=ScalingConfig(num_workers=workers, use_gpu=bool(resources.get("GPU")),
                                     resources_per_worker=resources),
        run_config=RunConfig(name=f"medcat-den-{spec.uuid}",
                             storage_path=str(spec.scratch_dir() / "ray_train"),
                             failure_config=FailureConfig(max_failures=0)))
    stop.set_phase("training")
    try:
        trainer.fit()
    except Exception as err:
        if relay.is_set():
            raise TrainingCanceledError("training canceled") from None
        shutil.rmtree(spec.scratch_dir(create=False), ignore_errors=True)
        raise TrainingError(f"data-parallel training failed: {_root_cause(err)}") from None
    result = ray.get(coord.get_result.remote())
    if result is None:
        raise TrainingCanceledError("training canceled")
    shutil.rmtree(spec.scratch_dir(create=False), ignore_errors=True)
    return PushedModel.model_validate_json(result)
