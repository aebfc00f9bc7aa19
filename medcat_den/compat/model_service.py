"""``CompatModelService``: 0.6.0's ``finetune_model`` / ``evaluate_model`` on our stack.

Config (constructor arguments):
    component_factory: ``"module:function"`` returning the TrainableComponent to fit
        (default: the pack's trainable embedding linker, as the caikit trainer uses).
    trainer_config: TrainerConfig keys for every fine-tune (default: TrainerConfig()).
    max_workers: fine-tunes running at once (default 1); each runs as a background job
        (a worker thread) that ``finetune`` waits for.

Fine-tuning is the one training run of every job (:func:`medcat_den.jobs.train_to_pack`,
then :func:`medcat_den.jobs.push_result`: ``parents=[base]`` and ``metadata["training"]``
with base model, data fingerprint, trainer config, metrics, steps, stop reason), on the den
object the 0.6.0 call was made on. Evaluation:
:func:`medcat_den.linking.evaluate.evaluate` (micro P/R/F1, strict and lenient).
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from medcat_den.den.model_services import ModelService, get_model_service, register_model_service
from medcat_den.errors import TrainingError, UnsupportedAPIException

logger = logging.getLogger(__name__)


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

    def __init__(self, component_factory: str | None = None,
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
        import uuid

        from medcat_den.jobs import JobSpec, RunHooks, push_result, train_to_pack
        from medcat_den.jobs.components import DEFAULT_FACTORY
        from medcat_den.training import TrainerConfig

        job_uuid = uuid.uuid4().hex
        base = den.info(model_id)
        with tempfile.TemporaryDirectory(prefix="medcat-den-finetune-") as scratch, \
                _no_injection():
            spec = JobSpec(id=f"compat:{job_uuid}", uuid=job_uuid, trainer_name="medcat_den.compat",
                           base_model=model_id, train_data=export,
                           trainer_config=TrainerConfig.from_any(self.trainer_config),
                           component_factory=self.component_factory or DEFAULT_FACTORY,
                           name=f"{base.name or 'model'}-finetuned", scratch=scratch)
            outcome = train_to_pack(spec, RunHooks(den=den, report_progress=False))
            return push_result(spec, outcome, den)

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
