"""The one training run every job executes: :func:`run_training`.

resolve the base model → the den's fine-tune policy → materialise → load the CAT →
build the TrainableComponent (``component_factory``) → :class:`~medcat_den.training.Trainer`
→ ``fit`` → save the pack into the job's scratch folder → :class:`JobOutcome`. The thread
and subprocess jobs (:mod:`~medcat_den.jobs.local_job`), the Ray job entry point
(:mod:`~medcat_den.jobs.ray_entry`) and every data-parallel worker
(:mod:`~medcat_den.jobs.data_parallel`) call it; what differs between them is given as
:class:`RunHooks`. The push (:func:`~medcat_den.jobs.push.push_result`) is separate, as it
runs in the process that owns the job. Config: none.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medcat_den.den.policies import check_fine_tune
from medcat_den.errors import DenError, TrainingCanceledError, TrainingError
from medcat_den.jobs.components import load_factory
from medcat_den.jobs.data import resolve_data
from medcat_den.jobs.outcome import DataFingerprints, JobOutcome
from medcat_den.jobs.progress import JobProgressCallback, Progress, Report, ignore
from medcat_den.jobs.spec import JobSpec
from medcat_den.training import (
    CancellationToken,
    TrainableComponent,
    Trainer,
    TrainerCallback,
    TrainerConfig,
    fingerprint,
)

Export = dict[str, Any]


def _never() -> bool:
    return False


def _always() -> bool:
    return True


@dataclass
class RunHooks:
    """How one kind of job runs :func:`run_training` (defaults: a plain local run).

    ``stop_requested`` is checked (besides ``token``) before and after the fit;
    ``on_phase`` is told "training" and "saving"; ``wrap`` replaces the component (e.g.
    data-parallel sharding) and ``worker_config`` the TrainerConfig the Trainer uses;
    ``callbacks(trainer, token)`` adds callbacks after the progress callback;
    ``may_save()`` False ends the run without saving (returns None); ``recorded_config``
    is added to the config recorded with the model; ``den`` is a den object to train from
    instead of opening ``spec.den`` (for callers that hold one, e.g. a multi-backend den).
    """

    report: Report = ignore
    token: CancellationToken = field(default_factory=CancellationToken)
    progress_interval_s: float = 0.25
    report_progress: bool = True
    progress_bar: bool = True
    checkpoints: bool = True
    scratch: Path | None = None
    stop_requested: Callable[[], bool] = _never
    on_phase: Callable[[str], None] | None = None
    wrap: Callable[[TrainableComponent, Export], TrainableComponent] | None = None
    worker_config: Callable[[TrainerConfig], TrainerConfig] | None = None
    callbacks: Callable[[Trainer, CancellationToken], list[TrainerCallback]] | None = None
    may_save: Callable[[], bool] = _always
    recorded_config: dict[str, Any] = field(default_factory=dict)
    den: Any = None  # a Den the caller already holds (else ``spec.den.open()``)

    def check(self, when: str) -> None:
        if self.token.canceled or self.stop_requested():
            raise TrainingCanceledError(f"training canceled {when}")

    def phase(self, name: str) -> None:
        if self.on_phase is not None:
            self.on_phase(name)
        self.report(Progress(phase=name))


def error_message(err: BaseException) -> str:
    """A one-line message naming the problem (den errors are already phrased for users)."""
    if isinstance(err, DenError):
        return str(err)
    return f"{type(err).__name__}: {err}"


def save_pack(cat: Any, component: Any, scratch: Path) -> str:
    """Save the trained pack as ``<scratch>/output/pack`` (and the component's extras)."""
    (scratch / "output").mkdir(parents=True, exist_ok=True)
    out = cat.save_model_pack(str(scratch / "output"), pack_name="pack",
                              make_archive=False, add_hash_to_pack_name=False)
    save_extra = getattr(component, "save_into_pack", None)
    if callable(save_extra):
        save_extra(out)
    return str(out)


def run_training(spec: JobSpec, hooks: RunHooks | None = None) -> JobOutcome | None:
    """Train ``spec`` and save the pack; None only when ``hooks.may_save()`` said no."""
    from medcat.cat import CAT

    with contextlib.suppress(ImportError):  # registers the embedding linkers with MedCAT
        import medcat_den.linking  # noqa: F401
    hooks = hooks or RunHooks()
    hooks.report(Progress(phase="loading"))
    den = hooks.den if hooks.den is not None else spec.den.open()
    train_export = resolve_data(spec.train_data, den, "training data")
    eval_export = (resolve_data(spec.eval_data, den, "evaluation data")
                   if spec.eval_data is not None else None)
    factory = load_factory(spec.component_factory)
    config = spec.trainer_config
    hooks.check("before it started")
    base_id = den.resolve(spec.base_model)
    base_name = den.info(base_id).name
    check_fine_tune(den, base_id)  # a remote den's policy may forbid local fine-tuning
    scratch = hooks.scratch or spec.scratch_dir()
    scratch.mkdir(parents=True, exist_ok=True)
    with den.materialise(base_id) as base_pack:
        cat = CAT.load_model_pack(base_pack)
        component = factory(cat, base_pack)
        if hooks.wrap is not None:
            component = hooks.wrap(component, train_export)
        hooks.check("before it started")
        trainer = Trainer(
            component, hooks.worker_config(config) if hooks.worker_config else config,
            callbacks=([JobProgressCallback(hooks.report, hooks.progress_interval_s)]
                       if hooks.report_progress else []),
            checkpoint_dir=scratch / "checkpoints" if hooks.checkpoints else None,
            cancel_token=hooks.token, progress=hooks.progress_bar)
        if hooks.callbacks is not None:
            trainer.callbacks.extend(hooks.callbacks(trainer, hooks.token))
        hooks.phase("training")
        hooks.check("before it started")
        fit_started, fit_cpu_started = time.perf_counter(), time.thread_time()
        result = trainer.fit(train_export, eval_export, resume_from=spec.resume_from)
        fit_seconds = time.perf_counter() - fit_started
        fit_cpu_seconds = time.thread_time() - fit_cpu_started
        hooks.check(f"at step {result.state.global_step}")
        if not hooks.may_save():
            return None
        hooks.phase("saving")
        out = save_pack(cat, component, scratch)
    return JobOutcome(
        pack=out, base_model_id=base_id, base_name=base_name,
        trainer_config={**config.model_dump(mode="json"), **hooks.recorded_config},
        fingerprints=DataFingerprints(
            train=fingerprint(train_export),
            eval=fingerprint(eval_export) if eval_export is not None else None),
        metrics=dict(result.metrics), steps=result.state.global_step,
        epochs_completed=result.state.epoch, stop_reason=result.state.stop_reason,
        fit_seconds=fit_seconds, fit_cpu_seconds=fit_cpu_seconds)



def train_to_pack(spec: JobSpec, hooks: RunHooks | None = None) -> JobOutcome:
    """:func:`run_training` for runs that always save (every kind but data-parallel ranks)."""
    outcome = run_training(spec, hooks)
    if outcome is None:
        raise TrainingError("the training run saved no pack (may_save() said no)")
    return outcome
