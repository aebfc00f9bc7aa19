"""The future returned by the local (``MEDCAT_EMBEDDING_LINKER``) trainer.

Backed either by a job this process runs (live) or by the job's persisted record
(a job run by another process or before a restart): ``get_info()``, ``cancel()``
(cross-process through a cancel request file), ``wait(timeout)`` and ``load()`` /
``result()`` work for both. ``load()`` returns the trained model, fetched from the den
by its content id, as the caikit module class given to ``train``.
"""

from __future__ import annotations

from typing import Any

from caikit.core.model_management.model_trainer_base import ModelTrainerFutureBase

from medcat_den.caikit.trainers.futures import load_trained, poll_until
from medcat_den.caikit.trainers.training_info import LinkerTrainingInfo
from medcat_den.den.den_spec import DenSpec
from medcat_den.errors import TrainingCanceledError, TrainingError
from medcat_den.jobs.local_job import TrainingJob
from medcat_den.jobs.record import JobRecord
from medcat_den.jobs.store import JobStore


class LinkerTrainingFuture(ModelTrainerFutureBase):  # type: ignore[misc]
    """A handle on one training job (see module docstring)."""

    def __init__(self, training_id: str, store: JobStore, den: DenSpec,
                 module_class: type[Any], job: TrainingJob | None = None,
                 poll_interval_s: float = 0.1) -> None:
        super().__init__(future_name="", future_id=training_id, use_reversible_hash=False)
        self._store = store
        self._den = den
        self._module_class = module_class
        self._job = job
        self._poll_interval_s = poll_interval_s

    def _record(self) -> JobRecord:
        if self._job is not None:
            return self._job.snapshot()
        record = self._store.read_checked(self.id)
        if record is None:
            raise TrainingError(f"the record of training job {self.id} has been removed")
        return record

    @property
    def record(self) -> JobRecord:
        return self._record()

    def get_info(self) -> LinkerTrainingInfo:
        return LinkerTrainingInfo.from_record(self._record())

    def cancel(self) -> None:
        if self._job is not None:
            self._job.cancel()
            return
        if not self._record().terminal:
            self._store.request_cancel(self.id)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job is terminal (or ``timeout`` s passed); return whether it is."""
        if self._job is not None:
            return self._job.wait(timeout)
        return poll_until(lambda: self._record().terminal, timeout, self._poll_interval_s)

    def load(self) -> Any:
        """Wait for the job, then return the trained model (raises if it did not complete)."""
        self.wait()
        record = self._record()
        if record.status == "CANCELED":
            raise TrainingCanceledError(f"training job {self.id} was canceled")
        if record.status != "COMPLETED" or not record.result_model_id:
            raise TrainingError(f"training job {self.id} failed: "
                                f"{'; '.join(record.errors) or record.status}")
        return load_trained(self._den, self._module_class, record.result_model_id)

    def result(self) -> Any:
        return self.load()
