"""The future of one ``MEDCAT_RAY`` training: a Ray job whose state lives in the cluster.

Status comes from the job (PENDING→QUEUED, RUNNING, SUCCEEDED→COMPLETED,
STOPPED→CANCELED, FAILED→ERRORED with the job's error line and log tail); progress,
the checkpoint written on a graceful stop and the pushed model come from marker lines in
the job log (see :mod:`medcat_den.jobs.ray_markers`). A stop that arrived after
the push began leaves a completed model: such a job reports COMPLETED. ``wait()``
returns as soon as the job is terminal; ``load()`` fetches the trained model from the den.
Nothing is kept in this process, so a future built from the id alone (another process,
after a restart) behaves the same.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from caikit.core.data_model import JobStatus
from caikit.core.model_management.model_trainer_base import ModelTrainerFutureBase

from medcat_den.caikit.trainers.futures import load_trained, poll_until
from medcat_den.caikit.trainers.ray_training_info import RayTrainingInfo
from medcat_den.den.den_spec import DenSpec
from medcat_den.errors import BackendError, TrainingCanceledError, TrainingError
from medcat_den.jobs.ray_markers import (
    CHECKPOINT,
    ERROR,
    PROGRESS,
    RESULT,
    log_tail,
    parse_markers,
)

_log = logging.getLogger(__name__)
_TERMINAL_RAY = ("SUCCEEDED", "STOPPED", "FAILED")
_STATUS = {"PENDING": "QUEUED", "RUNNING": "RUNNING", "SUCCEEDED": "COMPLETED",
           "STOPPED": "CANCELED", "FAILED": "ERRORED"}


def _when(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000) if ms else None


class RayTrainingFuture(ModelTrainerFutureBase):  # type: ignore[misc]
    """A handle on one Ray training job (see module docstring)."""

    def __init__(self, training_id: str, client: Any, den: DenSpec,
                 module_class: type[Any], poll_interval_s: float = 0.2) -> None:
        super().__init__(future_name="", future_id=training_id, use_reversible_hash=False)
        self._client = client
        self._den = den
        self._module_class = module_class
        self._poll_interval_s = poll_interval_s
        self._final: RayTrainingInfo | None = None

    # -- cluster access -----------------------------------------------------------------

    def _job_status(self) -> str:
        try:
            return str(self._client.get_job_status(self.id).value)
        except Exception as err:  # the client raises RuntimeError / connection errors
            raise BackendError(f"cannot read the state of Ray job {self.id}: "
                               f"{type(err).__name__}: {err}") from None

    def _details_and_logs(self) -> tuple[Any, str]:
        try:
            details = self._client.get_job_info(self.id)
            logs = str(self._client.get_job_logs(self.id) or "")
        except Exception as err:
            raise BackendError(f"cannot read Ray job {self.id}: "
                               f"{type(err).__name__}: {err}") from None
        return details, logs

    # -- caikit interface ---------------------------------------------------------------

    @property
    def ray_status(self) -> str:
        """The raw Ray job status (PENDING, RUNNING, SUCCEEDED, STOPPED, FAILED)."""
        return self._final.ray_status if self._final is not None else self._job_status()

    def get_info(self) -> RayTrainingInfo:
        if self._final is not None:
            return self._final
        details, logs = self._details_and_logs()
        ray_status = str(details.status.value)
        markers = parse_markers(logs)
        status = _STATUS.get(ray_status, "ERRORED")
        result = markers.get(RESULT)
        error = markers.get(ERROR)
        errors: list[Exception] | None = None
        if status in ("COMPLETED", "CANCELED") and isinstance(result, dict) \
                and result.get("model_id"):
            status = "COMPLETED"  # stopped during the push, which completed
        elif status == "COMPLETED":
            status = "ERRORED"
            errors = [TrainingError(f"Ray job {self.id} succeeded without pushing a model:\n"
                                    f"{log_tail(logs)}")]
        elif status == "ERRORED":
            first = (error or {}).get("message") if isinstance(error, dict) else None
            message = first or str(details.message or "the Ray job failed")
            errors = [TrainingError(f"{message}\n--- log tail ---\n{log_tail(logs)}")]
        elif status == "CANCELED":
            errors = [TrainingCanceledError(f"training job {self.id} was canceled")]
        progress = markers.get(PROGRESS) or {}
        ckpt = markers.get(CHECKPOINT) or {}
        result = result if isinstance(result, dict) else {}
        info = RayTrainingInfo(
            status=JobStatus[status], errors=errors,
            submission_time=_when(details.start_time), completion_time=_when(details.end_time),
            phase="done" if ray_status in _TERMINAL_RAY else str(progress.get("phase", "queued")),
            epoch=int(progress.get("epoch") or 0), num_epochs=int(progress.get("num_epochs") or 0),
            step=int(progress.get("step") or 0), max_steps=int(progress.get("max_steps") or 0),
            loss=progress.get("loss"),
            metrics={k: float(v) for k, v in (progress.get("metrics") or {}).items()},
            final_metrics={k: float(v) for k, v in (result.get("metrics") or {}).items()},
            result_model_id=result.get("model_id"), result_ref=result.get("ref"),
            ray_status=ray_status, checkpoint=ckpt.get("path") if isinstance(ckpt, dict) else None,
        )
        if ray_status in _TERMINAL_RAY:
            self._final = info
        return info

    def cancel(self) -> None:
        """Ask Ray to stop the job (SIGTERM, then SIGKILL after the grace period)."""
        if self._final is not None or self._job_status() in _TERMINAL_RAY:
            return
        try:
            self._client.stop_job(self.id)
        except Exception as err:
            raise BackendError(f"cannot stop Ray job {self.id}: {err}") from None

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job is terminal or ``timeout`` s passed; return whether it is."""
        return poll_until(
            lambda: self._final is not None or self._job_status() in _TERMINAL_RAY,
            timeout, self._poll_interval_s)

    def load(self) -> Any:
        """Wait for the job, then return the trained model fetched from the den."""
        self.wait()
        info = self.get_info()
        if info.status == JobStatus.CANCELED:
            raise TrainingCanceledError(f"training job {self.id} was canceled")
        if info.status != JobStatus.COMPLETED or not info.result_model_id:
            raise TrainingError(f"training job {self.id} failed: "
                                f"{'; '.join(str(e) for e in info.errors or []) or info.status}")
        return load_trained(self._den, self._module_class, info.result_model_id)

    def result(self) -> Any:
        return self.load()
