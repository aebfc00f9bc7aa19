"""The persisted state of one training job (``<state_dir>/jobs/<uuid>.json``).

Fields: ``id`` (the routable caikit training id ``<hashed trainer name>:<uuid>``),
``uuid``, ``trainer_name``, ``status`` (caikit JobStatus name), ``phase`` (queued,
loading, training, saving, pushing, done), ``errors``, ``submitted_at``, ``started_at``,
``completed_at``, ``base_model``, ``name``, ``aliases``, ``epoch``, ``num_epochs``,
``step``, ``max_steps``, ``loss``, ``metrics`` (latest evaluation), ``final_metrics``,
``fit_seconds`` / ``fit_cpu_seconds`` (wall / CPU time of ``Trainer.fit``),
``result_model_id``, ``result_ref``, ``owner_pid``/``owner_start`` (the process that
runs the job; a non-terminal job whose owner is gone is reported ERRORED),
``worker_pid`` (the training subprocess, if any), ``use_subprocess``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

TERMINAL = ("COMPLETED", "CANCELED", "ERRORED")


class JobRecord(BaseModel):
    """One job's state, as written to and read from the state dir."""

    model_config = ConfigDict(extra="ignore")

    id: str
    uuid: str
    trainer_name: str
    status: str = "QUEUED"
    phase: str = "queued"
    errors: list[str] = Field(default_factory=list)
    submitted_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    base_model: str = ""
    name: str | None = None
    aliases: list[str] = Field(default_factory=list)
    epoch: int = 0
    num_epochs: int = 0
    step: int = 0
    max_steps: int = 0
    loss: float | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    final_metrics: dict[str, float] = Field(default_factory=dict)
    fit_seconds: float | None = None
    fit_cpu_seconds: float | None = None
    result_model_id: str | None = None
    result_ref: str | None = None
    owner_pid: int = 0
    owner_start: str = ""
    worker_pid: int | None = None
    use_subprocess: bool = False

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly dict (what ``medcat-den jobs --json`` prints)."""
        return self.model_dump(mode="json")
