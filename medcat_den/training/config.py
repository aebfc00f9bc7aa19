"""Training hyper-parameters and schedule settings.

Keys (all optional; unknown keys are rejected):
``epochs``, ``batch_size``, ``learning_rate``, ``weight_decay``, ``warmup_steps`` /
``warmup_ratio``, ``lr_schedule`` (``linear`` | ``cosine`` | ``constant``),
``gradient_accumulation_steps``, ``max_grad_norm`` (``None`` = no clipping), ``seed``,
``eval_every_steps`` (``None`` = never mid-epoch), ``eval_each_epoch``,
``checkpoint_every_steps``, ``checkpoint_each_epoch``, ``checkpoint_metric``,
``checkpoint_mode`` (``max`` | ``min``), ``checkpoints_kept``,
``early_stopping_patience`` (evaluations without improvement; ``None`` = off),
``early_stopping_min_delta``, ``load_best_at_end``, ``time_limit_s``, ``device`` (passed to
the component's ``set_device`` if it has one; ``None`` = leave it where it is),
``num_threads`` (torch intra-op threads, set process-wide for the run; ``None`` = torch's
default. Small models on shared CPUs are often much faster with 1),
``average_weights_after`` (fraction of the epochs after which the epoch-end weights are
averaged into the final ones, see :mod:`~medcat_den.training.weight_averaging`; ``None`` =
off).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from medcat_den.errors import ConfigError


class TrainerConfig(BaseModel):
    """Validated, immutable training settings (see module docstring for the keys)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    epochs: int = Field(default=1, ge=1)
    batch_size: int = Field(default=16, ge=1)
    learning_rate: float = Field(default=5e-5, gt=0)
    weight_decay: float = Field(default=0.0, ge=0)
    warmup_steps: int = Field(default=0, ge=0)
    warmup_ratio: float = Field(default=0.0, ge=0, lt=1)
    lr_schedule: Literal["linear", "cosine", "constant"] = "linear"
    gradient_accumulation_steps: int = Field(default=1, ge=1)
    max_grad_norm: float | None = Field(default=1.0, gt=0)
    seed: int = 42
    eval_every_steps: int | None = Field(default=None, ge=1)
    eval_each_epoch: bool = True
    checkpoint_every_steps: int | None = Field(default=None, ge=1)
    checkpoint_each_epoch: bool = True
    checkpoint_metric: str = "f1"
    checkpoint_mode: Literal["max", "min"] = "max"
    checkpoints_kept: int = Field(default=2, ge=1)
    early_stopping_patience: int | None = Field(default=None, ge=1)
    early_stopping_min_delta: float = Field(default=0.0, ge=0)
    load_best_at_end: bool = False
    time_limit_s: float | None = Field(default=None, gt=0)
    device: str | None = None
    num_threads: int | None = Field(default=None, ge=1)
    average_weights_after: float | None = Field(default=None, ge=0, lt=1)

    @model_validator(mode="after")
    def _check_warmup(self) -> TrainerConfig:
        if self.warmup_steps and self.warmup_ratio:
            raise ValueError("give warmup_steps or warmup_ratio, not both")
        return self

    @classmethod
    def from_any(cls, value: TrainerConfig | dict[str, Any] | None) -> TrainerConfig:
        """Build from a config, a plain dict (e.g. JSON from a request) or ``None``."""
        if value is None:
            return cls()
        if isinstance(value, TrainerConfig):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"trainer_config must be a mapping, got {type(value).__name__}")
        try:
            return cls(**value)
        except ValidationError as err:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'trainer_config'}: {e['msg']}"
                for e in err.errors()
            )
            raise ConfigError(f"invalid trainer_config: {problems}") from None

    def is_better(self, value: float, best: float | None, min_delta: float = 0.0) -> bool:
        """Whether ``value`` of the checkpoint metric improves on ``best`` by > min_delta."""
        if best is None:
            return True
        if self.checkpoint_mode == "max":
            return value > best + min_delta
        return value < best - min_delta
