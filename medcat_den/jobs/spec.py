"""What a training job is asked to do: :class:`DenSpec` and :class:`JobSpec`.

A spec is plain data (pydantic, JSON round-trip), so the same record travels to a worker
thread, a spawned subprocess (pickled), a Ray job (base64 JSON on its command line) and
every data-parallel worker. Fields of :class:`JobSpec`:

    id:                the routable training id (``<hashed trainer name>:<uuid>``)
    uuid:              32 hex digits (scratch folder name)
    trainer_name:      the caikit trainer instance that submitted it
    base_model:        den ref or content id of the model to fine-tune
    train_data / eval_data: an export dict, a path, ``s3://`` or ``den-data://`` location
    trainer_config:    the merged :class:`~medcat_den.training.TrainerConfig`
    component_factory: ``"module:function"`` returning the TrainableComponent
    den:               which den (:class:`DenSpec`)
    name / aliases:    den name and aliases of the result
    scratch:           the job's folder (checkpoints, the saved pack); None = Ray's default
    cancel_file:       a file whose existence cancels the job (another process may create it)
    num_workers:       data-parallel Ray Train workers (1 = train in the job process)
    worker_resources:  Ray resources of each data-parallel worker
    checkpoint_dir:    Ray jobs: root of the per-job scratch folders on the node
    resume_from:       a checkpoint folder to continue from
"""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from medcat_den.den.den_spec import DenSpec
from medcat_den.errors import ConfigError
from medcat_den.jobs.components import DEFAULT_FACTORY
from medcat_den.training import TrainerConfig

DataRef = dict[str, Any] | str
class JobSpec(BaseModel):
    """One training job (see module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    uuid: str
    trainer_name: str
    base_model: str
    train_data: DataRef
    eval_data: DataRef | None = None
    trainer_config: TrainerConfig = Field(default_factory=TrainerConfig)
    component_factory: str = DEFAULT_FACTORY
    den: DenSpec = Field(default_factory=DenSpec)
    name: str | None = None
    aliases: list[str] = Field(default_factory=list)
    scratch: str | None = None
    cancel_file: str | None = None
    num_workers: int = Field(default=1, ge=1)
    worker_resources: dict[str, float] = Field(default_factory=dict)
    checkpoint_dir: str | None = None
    resume_from: str | None = None

    @field_validator("train_data", "eval_data", mode="before")
    @classmethod
    def _paths_as_text(cls, value: Any) -> Any:
        return os.fspath(value) if isinstance(value, os.PathLike) else value

    def scratch_dir(self, create: bool = True) -> Path:
        """The job's folder: ``scratch``, else ``<checkpoint_dir or tmp>/medcat-den-ray/<uuid>``."""
        if self.scratch:
            path = Path(self.scratch)
        else:
            root = self.checkpoint_dir or os.path.join(tempfile.gettempdir(), "medcat-den-ray")
            path = Path(root) / self.uuid
        if create:
            path.mkdir(parents=True, exist_ok=True)
        return path

    def encode(self) -> str:
        """URL-safe base64 JSON (a Ray job's command-line argument)."""
        return base64.urlsafe_b64encode(self.model_dump_json().encode("utf-8")).decode("ascii")

    @classmethod
    def decode(cls, text: str) -> JobSpec:
        try:
            return cls.model_validate_json(base64.urlsafe_b64decode(text.encode("ascii")))
        except (ValidationError, ValueError) as err:
            raise ConfigError(f"invalid job spec: {err}") from None
