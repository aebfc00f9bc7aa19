"""What the caikit trainers (``MEDCAT_EMBEDDING_LINKER``, ``MEDCAT_RAY``) share when they
read their config and a ``train()`` request: the config keys every trainer has, the
checks of the request, the merged :class:`~medcat_den.training.TrainerConfig`, the den
name / aliases of the result, the training id and the
:class:`~medcat_den.jobs.JobSpec` of the job. Config: none (a helper module).

Errors are :class:`~medcat_den.errors.ConfigError` / ``InvalidNameError``; inside
:func:`request_errors` they reach the caller as :class:`InvalidTrainingRequestError`.
"""

from __future__ import annotations

import contextlib
import re
import uuid as uuid_mod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from caikit.core.toolkit.reversible_hasher import ReversibleHasher

from medcat_den.caikit.module import MedCATModule
from medcat_den.caikit.trainers.request_error import InvalidTrainingRequestError
from medcat_den.den.den_spec import DEN_SPEC_KEYS, DenSpec
from medcat_den.errors import ConfigError, InvalidNameError
from medcat_den.jobs.components import DEFAULT_FACTORY, load_factory
from medcat_den.jobs.spec import JobSpec
from medcat_den.pack.names import validate_alias, validate_name
from medcat_den.training import TrainerConfig

COMMON_KEYS = frozenset({"component_factory", "trainer_config", *DEN_SPEC_KEYS})
_JOB_UUID = re.compile(r"[0-9a-f]{32}")


def plain(value: Any) -> Any:
    """aconfig.Config (a dict subclass with attribute access) → plain containers."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


@dataclass(frozen=True)
class TrainerSettings:
    """The config every trainer has: the den, the component factory, TrainerConfig defaults."""

    den: DenSpec
    factory: str
    defaults: dict[str, Any]

    @classmethod
    def from_config(cls, cfg: dict[str, Any], owner: str) -> TrainerSettings:
        den = DenSpec.from_mapping(cfg, owner)
        factory = str(cfg.get("component_factory") or DEFAULT_FACTORY)
        load_factory(factory)  # fail at configuration time, not in every job
        defaults = dict(cfg.get("trainer_config") or {})
        TrainerConfig.from_any(defaults)
        return cls(den=den, factory=factory, defaults=defaults)


def read_config(config: Any, instance_name: str, trainer_type: str,
                known: set[str] | frozenset[str]) -> tuple[dict[str, Any], str]:
    """The plain config and the owner phrase for messages; unknown keys are an error."""
    cfg: dict[str, Any] = plain(config or {})
    owner = f"trainer {instance_name!r} ({trainer_type})"
    unknown = sorted(set(cfg) - set(known))
    if unknown:
        raise ConfigError(f"{owner}: unknown config keys {unknown}")
    return cfg, owner


@contextlib.contextmanager
def request_errors() -> Iterator[None]:
    """Re-raise a bad request as :class:`InvalidTrainingRequestError` (HTTP 400 in caikit)."""
    try:
        yield
    except (ConfigError, InvalidNameError) as err:
        if isinstance(err, InvalidTrainingRequestError):
            raise
        raise InvalidTrainingRequestError(str(err)) from None


def check_call(trainer_type: str, module_class: type[Any], args: tuple[Any, ...],
               kwargs: dict[str, Any], base_model: str | None, train_data: Any) -> str:
    """The checks of ``train()``'s arguments; returns the base model ref."""
    if args:
        raise ConfigError("train() takes keyword arguments only (base_model=, train_data=, "
                          "eval_data=, trainer_config=, name=, aliases=)")
    if kwargs:
        raise ConfigError(f"unknown training arguments: {', '.join(sorted(kwargs))}")
    if not (isinstance(module_class, type) and issubclass(module_class, MedCATModule)):
        raise ConfigError(f"{trainer_type} trains the MedCAT caikit module, not {module_class!r}")
    if not isinstance(base_model, str) or not base_model.strip():
        raise ConfigError("base_model (a den ref or content id) is required")
    if train_data is None or train_data == "":
        raise ConfigError("train_data (an export, a path, s3:// or den-data:// location) "
                          "is required")
    return base_model


@dataclass(frozen=True)
class ResultSettings:
    """The job's TrainerConfig and the den name / aliases of its result."""

    config: TrainerConfig
    name: str | None
    aliases: list[str]

    @classmethod
    def resolve(cls, defaults: dict[str, Any],
                trainer_config: TrainerConfig | dict[str, Any] | None, name: str | None,
                model_name: str | None, aliases: list[str] | str | None) -> ResultSettings:
        """``trainer_config`` over the trainer's defaults; ``name`` else caikit's ``model_name``."""
        merged = defaults.copy()
        if isinstance(trainer_config, TrainerConfig):
            merged.update(trainer_config.model_dump())
        elif trainer_config is not None:
            merged.update(plain(trainer_config))
        config = TrainerConfig.from_any(merged)
        name = name or model_name or None
        if name is not None:
            validate_name(name)
        alias_list = [aliases] if isinstance(aliases, str) else list(aliases or [])
        for alias in alias_list:
            validate_alias(alias)
        return cls(config=config, name=name, aliases=alias_list)


def training_ids(instance_name: str, external_training_id: str | None) -> tuple[str, str]:
    """``(uuid, training id)``; the id is ``<hashed instance name>:<uuid>`` so that
    ``ModelManager.get_model_future(id)`` routes to the instance by name."""
    job_uuid = external_training_id or uuid_mod.uuid4().hex
    if not _JOB_UUID.fullmatch(job_uuid):
        raise ConfigError(f"external_training_id must be 32 hex digits, got {job_uuid!r}")
    return job_uuid, f"{ReversibleHasher.hash(instance_name)}:{job_uuid}"


def job_spec(*, training_id: str, job_uuid: str, trainer_name: str, base_model: str,
             train_data: Any, eval_data: Any, result: ResultSettings, factory: str,
             den: DenSpec, **extra: Any) -> JobSpec:
    """The job's :class:`~medcat_den.jobs.JobSpec` (``extra``: its other fields)."""
    return JobSpec(id=training_id, uuid=job_uuid, trainer_name=trainer_name,
                   base_model=base_model, train_data=train_data, eval_data=eval_data,
                   trainer_config=result.config, component_factory=factory, den=den,
                   name=result.name, aliases=result.aliases, **extra)
