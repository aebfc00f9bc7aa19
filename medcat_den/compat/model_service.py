"""``CompatModelService``: 0.6.0's ``finetune_model`` / ``evaluate_model`` on our stack.

Config (constructor arguments):
    component_factory: ``"module:function"`` or a callable ``factory(cat, pack_dir)``
        returning the TrainableComponent to fit (default: the pack's trainable
        embedding linker, as the caikit trainer uses).
    trainer_config: TrainerConfig keys for every fine-tune (default: TrainerConfig()).
    max_workers: fine-tunes running at once (default 1); each runs as a background job
        (a worker thread) that ``finetune`` waits for.

Fine-tuning: resolve → the den's fine-tune policy → materialise → load the CAT → the
component → :class:`medcat_den.training.Trainer` ``fit`` → save → ``den.push_model``
with ``parents=[base]`` and ``metadata["training"]`` (base model, data fingerprint,
trainer config, metrics, steps, stop reason). Evaluation:
:func:`medcat_den.linking.evaluate.evaluate` (micro P/R/F1, strict and lenient).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any

from medcat_den.den.model_services import ModelService, get_model_service, register_model_service
from medcat_den.errors import ConfigError, TrainingError, UnsupportedAPIException

logger = logging.getLogger(__name__)

# the caikit trainer's default factory (its module moves to medcat_den.jobs in the jobs rework)
DEFAULT_FACTORIES = ("medcat_den.jobs.components:embedding_linker_component",
                     "medcat_den.caikit.trainers.components:embedding_linker_component")

Factory = Callable[[Any, str], Any]


def _load_factory(spec: str | Factory | None) -> Factory:
    if callable(spec):
        return spec
    candidates = (spec,) if spec else DEFAULT_FACTORIES
    errors = []
    for path in candidates:
        module_name, _, attr = path.partition(":")
        if not module_name or not attr:
            raise ConfigError(f"component_factory must be 'module:function', got {path!r}")
        try:
            factory = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as err:
            errors.append(f"{path}: {err}")
            continue
        if callable(factory):
            return factory  # type: ignore[no-any-return]
        errors.append(f"{path} is not callable")
    raise ConfigError(f"cannot import a component_factory: {'; '.join(errors)}")


def export_of(data: Any, what: str) -> dict[str, Any]:
    """One MedCATtrainer export from 0.6.0's ``data``: an export, a path, or a list of them."""
    from medcat_den.training import load_export, validate_export

    if isinstance(data, (str, os.PathLike, dict)):
        items = [data]
    elif isinstance(data, (list, tuple)) and data:
        items = list(data)
    else:
        raise TrainingError(f"{what} must be a MedCATtrainer export (dict), a path to one, or "
                            f"a non-empty list of them; got {type(data).__name__}")
    projects: list[Any] = []
    for item in items:
        if not isinstance(item, (str, os.PathLike, dict)):
            raise TrainingError(f"{what}: {type(item).__name__} is not an export or a path")
        if isinstance(item, str) and not os.path.exists(item):
            raise TrainingError(
                f"{what}: {item!r} is not a file; 0.6.0's remote project ids are not supported, "
                "pass MedCATtrainer exports (dicts or paths)")
        projects.extend(load_export(item).get("projects") or [])
    export = {"projects": projects}
    validate_export(export, what)
    return export


@contextlib.contextmanager
def _no_injection() -> Iterator[None]:
    """The service's own MedCAT loads / saves never go through a den injection."""
    try:
        from medcat_den.injection.api import STATE
    except ImportError:  # pragma: no cover - injection is part of the package
        yield
        return
    with STATE.bypassed():
        yield


class CompatModelService:
    """See the module docstring."""

    def __init__(self, component_factory: str | Factory | None = None,
                 trainer_config: dict[str, Any] | None = None, max_workers: int = 1) -> None:
        # validated (TrainerConfig) at the first fine-tune: importing training imports torch
        self.component_factory = component_factory
        self.trainer_config = dict(trainer_config or {})
        self._executor = ThreadPoolExecutor(max_workers=max_workers,
                                            thread_name_prefix="medcat-den-finetune")

    # ---------------------------------------------------------------- fine-tune
    def finetune(self, den: Any, model_id: str, data: Any) -> Any:
        export = export_of(data, "training data")
        job = self._executor.submit(self._finetune, den, model_id, export)
        return job.result()  # waits; the job's error is raised here

    def _finetune(self, den: Any, model_id: str, export: dict[str, Any]) -> Any:
        from medcat.cat import CAT

        from medcat_den.den.policies import check_fine_tune
        from medcat_den.training import Trainer, TrainerConfig, fingerprint

        with contextlib.suppress(ImportError):  # registers the embedding linkers with MedCAT
            import medcat_den.linking  # noqa: F401
        config = TrainerConfig.from_any(self.trainer_config)
        base = den.info(model_id)
        check_fine_tune(den, model_id)
        factory = _load_factory(self.component_factory)
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="medcat-den-finetune-") as scratch, \
                _no_injection():
            with den.materialise(model_id) as pack:
                cat = CAT.load_model_pack(pack)
                component = factory(cat, pack)
                trainer = Trainer(component, config,
                                  checkpoint_dir=os.path.join(scratch, "checkpoints"))
                result = trainer.fit(export)
            os.makedirs(os.path.join(scratch, "output"))
            out = cat.save_model_pack(os.path.join(scratch, "output"), pack_name="pack",
                                      make_archive=False, add_hash_to_pack_name=False)
            save_extra = getattr(component, "save_into_pack", None)
            if callable(save_extra):
                save_extra(out)
            metadata = {"training": {
                "job_id": f"compat-{threading.get_ident()}-{time.time_ns()}",
                "trainer": "medcat_den.compat",
                "base_model": model_id,
                "base_ref": model_id,
                "data_fingerprint": {"train": fingerprint(export), "eval": None},
                "trainer_config": config.model_dump(mode="json"),
                "metrics": dict(result.metrics),
                "steps": result.state.global_step,
                "epochs_completed": result.state.epoch,
                "stop_reason": result.state.stop_reason,
                "fit_seconds": round(time.perf_counter() - started, 3),
                "finished_at": datetime.now(timezone.utc).isoformat(),
            }}
            name = f"{base.name or 'model'}-finetuned"
            return den.push_model(out, f"fine-tuned from {model_id[:12]} (finetune_model)",
                                  name=name, metadata=metadata, parents=[model_id])

    # ----------------------------------------------------------------- evaluate
    def evaluate(self, den: Any, model_id: str, data: Any) -> dict[str, Any]:
        from medcat.cat import CAT

        from medcat_den.linking.evaluate import evaluate

        with contextlib.suppress(ImportError):
            import medcat_den.linking  # noqa: F401
        export = export_of(data, "evaluation data")
        with _no_injection(), den.materialise(model_id) as pack:
            cat = CAT.load_model_pack(pack)
        return dict(evaluate(cat, export))


_register_lock = threading.Lock()


def ensure_registered() -> ModelService:
    """Register a default :class:`CompatModelService` unless a service is registered."""
    with _register_lock:
        try:
            return get_model_service("")
        except UnsupportedAPIException:  # none registered yet
            service = CompatModelService()
            register_model_service(service)
            return service
