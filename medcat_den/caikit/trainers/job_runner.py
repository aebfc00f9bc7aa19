"""The work of one training job, run in a worker thread or a training subprocess.

:func:`train_to_pack` loads and validates the data, resolves and materialises the base
model, builds the TrainableComponent (``component_factory``), fits it with the
:class:`~medcat_den.training.Trainer` and saves the trained pack into the job's scratch
folder. :func:`push_result` (always in the owning process) pushes that pack to the den
with lineage and metadata. :func:`subprocess_main` is the subprocess entry point; it
talks to the owner through a pipe (``progress`` / ``done`` / ``canceled`` / ``error``).
Spec keys: ``id``, ``uuid``, ``trainer_name``, ``base_model``, ``train_data``,
``eval_data``, ``trainer_config``, ``component_factory``, ``den``, ``scratch``,
``cancel_file``, ``name``, ``aliases``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from medcat_den.caikit.den_access import open_den
from medcat_den.caikit.trainers.components import ComponentFactory, load_factory
from medcat_den.caikit.trainers.training_data import describe_source, resolve_data
from medcat_den.den import Den, ModelInfo
from medcat_den.den.policies import check_fine_tune
from medcat_den.errors import DenError, TrainingCanceledError
from medcat_den.training import (
    CancellationToken,
    Trainer,
    TrainerCallback,
    TrainerConfig,
    TrainerControl,
    TrainerState,
    TrainResult,
    fingerprint,
)

_log = logging.getLogger(__name__)
Report = Callable[[dict[str, Any]], None]


class JobProgressCallback(TrainerCallback):
    """Forwards epoch, step, loss and metrics to the job record (throttled)."""

    def __init__(self, report: Report, interval_s: float = 0.25) -> None:
        self._report = report
        self._interval_s = interval_s
        self._last = 0.0

    def _send(self, state: TrainerState, force: bool, **extra: Any) -> None:
        now = time.monotonic()
        if not force and now - self._last < self._interval_s:
            return
        self._last = now
        self._report({"epoch": min(state.epoch + 1, state.num_epochs),
                      "num_epochs": state.num_epochs, "step": state.global_step,
                      "max_steps": state.max_steps, "loss": state.latest_loss, **extra})

    def on_train_begin(self, state: TrainerState, control: TrainerControl) -> None:
        self._send(state, True, phase="training")

    def on_step_end(self, state: TrainerState, control: TrainerControl) -> None:
        self._send(state, False)

    def on_evaluate(self, state: TrainerState, control: TrainerControl,
                    metrics: dict[str, float]) -> None:
        self._send(state, True, metrics=metrics)

    def on_train_end(self, state: TrainerState, control: TrainerControl) -> None:
        self._send(state, True)


def error_message(err: BaseException) -> str:
    """A one-line message naming the problem (den errors are already phrased for users)."""
    if isinstance(err, DenError):
        return str(err)
    return f"{type(err).__name__}: {err}"


def _check(token: CancellationToken) -> None:
    if token.canceled:
        raise TrainingCanceledError("training canceled before it started")


@dataclass
class JobInputs:
    """What a job reads from its spec before it touches the base model."""

    den: Den
    train_export: dict[str, Any]
    eval_export: dict[str, Any] | None
    config: TrainerConfig
    factory: ComponentFactory


def load_inputs(spec: dict[str, Any]) -> JobInputs:
    """Open the job's den, load and validate its data, read its config and factory."""
    den = open_den(spec["den"])
    train_export = resolve_data(spec["train_data"], den, "training data")
    eval_export = (resolve_data(spec["eval_data"], den, "evaluation data")
                   if spec.get("eval_data") is not None else None)
    return JobInputs(den=den, train_export=train_export, eval_export=eval_export,
                     config=TrainerConfig.from_any(spec["trainer_config"]),
                     factory=load_factory(spec["component_factory"]))


def save_pack(cat: Any, component: Any, scratch: Path) -> str:
    """Save the trained pack as ``<scratch>/output/pack`` (and the component's extras)."""
    (scratch / "output").mkdir(parents=True, exist_ok=True)
    out = cat.save_model_pack(str(scratch / "output"), pack_name="pack",
                              make_archive=False, add_hash_to_pack_name=False)
    save_extra = getattr(component, "save_into_pack", None)
    if callable(save_extra):
        save_extra(out)
    return str(out)


def outcome_of(pack: str, base_id: str, base_name: str | None,
               trainer_config: dict[str, Any], train_export: dict[str, Any],
               eval_export: dict[str, Any] | None, result: TrainResult,
               fit_seconds: float, fit_cpu_seconds: float | None = None) -> dict[str, Any]:
    """What :func:`push_result` needs (``fit_cpu_seconds`` only when measured)."""
    outcome = {
        "pack": str(pack), "base_model_id": base_id, "base_name": base_name,
        "trainer_config": trainer_config,
        "fingerprints": {"train": fingerprint(train_export),
                         "eval": fingerprint(eval_export) if eval_export is not None else None},
        "metrics": result.metrics, "steps": result.state.global_step,
        "epochs_completed": result.state.epoch, "stop_reason": result.state.stop_reason,
        "fit_seconds": fit_seconds,
    }
    if fit_cpu_seconds is not None:
        outcome["fit_cpu_seconds"] = fit_cpu_seconds
    return outcome


def train_to_pack(spec: dict[str, Any], report: Report, token: CancellationToken, *,
                  callbacks: list[TrainerCallback] | None = None) -> dict[str, Any]:
    """Train and save the pack in the scratch folder; return what the push needs.

    ``callbacks`` are added to the Trainer after the job's progress callback.
    """
    from medcat.cat import CAT

    with contextlib.suppress(ImportError):  # registers the embedding linkers with MedCAT
        import medcat_den.linking  # noqa: F401
    report({"phase": "loading"})
    inputs = load_inputs(spec)
    den, config = inputs.den, inputs.config
    _check(token)
    base_id = den.resolve(spec["base_model"])
    base_info = den.info(base_id)
    check_fine_tune(den, base_id)  # a remote den's policy may forbid local fine-tuning
    scratch = Path(spec["scratch"])
    scratch.mkdir(parents=True, exist_ok=True)
    with den.materialise(base_id) as base_pack:
        cat = CAT.load_model_pack(base_pack)
        component = inputs.factory(cat, base_pack)
        _check(token)
        report({"phase": "training"})
        trainer = Trainer(component, config,
                          callbacks=[JobProgressCallback(report), *(callbacks or [])],
                          checkpoint_dir=scratch / "checkpoints", cancel_token=token)
        fit_started, fit_cpu_started = time.perf_counter(), time.thread_time()
        result = trainer.fit(inputs.train_export, inputs.eval_export)
        fit_seconds = time.perf_counter() - fit_started
        fit_cpu_seconds = time.thread_time() - fit_cpu_started
        _check(token)
        report({"phase": "saving"})
        out = save_pack(cat, component, scratch)
    return outcome_of(out, base_id, base_info.name, config.model_dump(mode="json"),
                      inputs.train_export, inputs.eval_export, result, fit_seconds,
                      fit_cpu_seconds)


def push_result(spec: dict[str, Any], outcome: dict[str, Any]) -> ModelInfo:
    """Push the trained pack with parents, data fingerprint, config and metrics."""
    den = open_den(spec["den"])
    name = spec.get("name") or f"{outcome['base_name'] or 'model'}-finetuned"
    metadata = {"training": {
        "job_id": spec["id"],
        "trainer": spec["trainer_name"],
        "base_model": outcome["base_model_id"],
        "base_ref": spec["base_model"],
        "data_fingerprint": outcome["fingerprints"],
        "data_sources": {"train": describe_source(spec["train_data"]),
                         "eval": describe_source(spec.get("eval_data"))},
        "trainer_config": outcome["trainer_config"],
        "metrics": outcome["metrics"],
        "steps": outcome["steps"],
        "epochs_completed": outcome["epochs_completed"],
        "stop_reason": outcome["stop_reason"],
        "fit_seconds": round(outcome["fit_seconds"], 3),
        "finished_at": datetime.now(timezone.utc).isoformat(),
    }}
    return den.push_model(
        outcome["pack"], f"fine-tuned from {outcome['base_model_id'][:12]} by job {spec['id']}",
        name=name, aliases=list(spec.get("aliases") or []), metadata=metadata,
        parents=[outcome["base_model_id"]])


def subprocess_main(spec: dict[str, Any], conn: Any) -> None:
    """Entry point of a training subprocess (spawned or forked)."""
    logging.basicConfig(level=os.environ.get("MEDCAT_DEN_LOG_LEVEL", "WARNING"))
    token = CancellationToken(spec["cancel_file"])

    def report(progress: dict[str, Any]) -> None:
        conn.send(("progress", progress))

    try:
        outcome = train_to_pack(spec, report, token)
        conn.send(("done", outcome))
    except TrainingCanceledError as err:
        conn.send(("canceled", str(err)))
    except BaseException as err:
        _log.debug("training subprocess failed", exc_info=True)
        conn.send(("error", error_message(err)))
    finally:
        conn.close()
