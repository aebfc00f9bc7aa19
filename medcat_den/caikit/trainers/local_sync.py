"""caikit's synchronous ``LOCAL`` training path: what :meth:`MedCATModule.train` runs.

caikit runtime's training route calls ``ModelManager.train(MedCATModule, ...)``; with a plain
caikit ``LOCAL`` trainer that becomes ``MedCATModule.train(...)``, which runs
:func:`train_synchronously` (registered by this package's ``__init__``): the one training
run (:func:`medcat_den.jobs.train_to_pack`) and the push, in the calling thread, on the
default den and component factory. Parameters: ``base_model`` (den ref / content id),
``train_data`` / ``eval_data`` (a path, ``s3://`` or ``den-data://`` location),
``trainer_config`` (TrainerConfig keys), ``name`` / ``aliases`` (den name of the result).
Config: none.
"""

from __future__ import annotations

import tempfile
import uuid
from typing import Any

from medcat_den.caikit.den_access import fetch_cat
from medcat_den.caikit.trainers.request import ResultSettings, job_spec, request_errors
from medcat_den.errors import ConfigError
from medcat_den.jobs import DenSpec, push_result, train_to_pack
from medcat_den.jobs.components import DEFAULT_FACTORY


def train_synchronously(cls: type[Any], base_model: str, train_data: Any, *,
                        eval_data: Any = None, trainer_config: dict[str, Any] | None = None,
                        name: str | None = None, aliases: list[str] | None = None) -> Any:
    """Fine-tune the base model's trainable linker, push the result, return it as ``cls``."""
    with request_errors():
        if not base_model:
            raise ConfigError("base_model (a den ref or content id) is required")
        result = ResultSettings.resolve({}, trainer_config, name, None, aliases)
    job_id = f"sync:{uuid.uuid4().hex}"
    with tempfile.TemporaryDirectory(prefix="medcat-den-train-") as scratch:
        spec = job_spec(training_id=job_id, job_uuid=job_id, trainer_name="LOCAL",
                        base_model=base_model, train_data=train_data,
                        eval_data=eval_data or None, result=result, factory=DEFAULT_FACTORY,
                        den=DenSpec(), scratch=scratch)
        info = push_result(spec, train_to_pack(spec))
    return cls(fetch_cat(spec.den.open(), info.model_id), den_model_id=info.model_id)
