"""caikit's ``TrainingInfo`` plus the progress of a MedCAT training job.

Extra fields: ``phase``, ``epoch``, ``num_epochs``, ``step``, ``max_steps``, ``loss``,
``metrics`` (latest evaluation), ``final_metrics``, ``result_model_id``, ``result_ref``
(the pushed model), ``worker_pid`` (training subprocess, if any).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from caikit.core.data_model import JobStatus
from caikit.core.model_management.model_trainer_base import TrainingInfo

from medcat_den.errors import TrainingCanceledError, TrainingError
from medcat_den.jobs.record import JobRecord


@dataclasses.dataclass
class LinkerTrainingInfo(TrainingInfo):  # type: ignore[misc]
    """Status of a job (see module docstring)."""

    phase: str = ""
    epoch: int = 0
    num_epochs: int = 0
    step: int = 0
    max_steps: int = 0
    loss: float | None = None
    metrics: dict[str, float] = dataclasses.field(default_factory=dict)
    final_metrics: dict[str, float] = dataclasses.field(default_factory=dict)
    result_model_id: str | None = None
    result_ref: str | None = None
    worker_pid: int | None = None

    @classmethod
    def from_record(cls, record: JobRecord) -> LinkerTrainingInfo:
        status = JobStatus[record.status]
        errors: list[Exception] | None = None
        if record.errors:
            kind = TrainingCanceledError if status is JobStatus.CANCELED else TrainingError
            errors = [kind(msg) for msg in record.errors]
        return cls(status=status, errors=errors, submission_time=record.submitted_at,
                   completion_time=record.completed_at, phase=record.phase, epoch=record.epoch,
                   num_epochs=record.num_epochs, step=record.step, max_steps=record.max_steps,
                   loss=record.loss, metrics=dict(record.metrics),
                   final_metrics=dict(record.final_metrics),
                   result_model_id=record.result_model_id, result_ref=record.result_ref,
                   worker_pid=record.worker_pid)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["status"] = self.status.name
        out["errors"] = [str(e) for e in self.errors or []]
        for key in ("submission_time", "completion_time"):
            out[key] = out[key].isoformat() if out[key] else None
        return out
