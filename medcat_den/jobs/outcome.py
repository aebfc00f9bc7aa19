"""What a training run hands on: :class:`JobOutcome` (the trained pack, before the push)
and :class:`PushedModel` (after it; what a Ray job reports in its ``MEDCAT_DEN_RESULT``
line). Plain data, so they cross pipes (pickled) and job logs (JSON).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class DataFingerprints(BaseModel):
    """sha256 of the canonical JSON of the training / evaluation export."""

    model_config = ConfigDict(frozen=True)

    train: str
    eval: str | None = None


class JobOutcome(BaseModel):
    """A finished fit whose pack is saved in the job's scratch folder."""

    model_config = ConfigDict(frozen=True)

    pack: str
    base_model_id: str
    base_name: str | None
    trainer_config: dict[str, Any]
    fingerprints: DataFingerprints
    metrics: dict[str, float]
    steps: int
    epochs_completed: int
    stop_reason: str | None
    fit_seconds: float
    fit_cpu_seconds: float


class PushedModel(BaseModel):
    """The model a job pushed to the den."""

    model_config = ConfigDict(frozen=True)

    model_id: str
    ref: str
    metrics: dict[str, float]
    steps: int
    epochs_completed: int
    num_workers: int = 1
    seconds: float | None = None
