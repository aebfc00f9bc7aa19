"""The ``train`` signature of the MedCAT caikit module (what caikit runtime exposes as the
``EntityLinkingTaskMedCATModuleTrain`` HTTP route) and its synchronous implementation.

caikit runtime's training endpoint calls ``ModelManager.train(MedCATModule, ...)`` with
these parameters; with the ``MEDCAT_EMBEDDING_LINKER`` trainer as the ``default``
trainer they become a background job. A plain caikit ``LOCAL`` trainer instead calls
this function, which does the same work synchronously in the calling thread:
``base_model`` (den ref / content id), ``train_data`` and ``eval_data`` (a path,
``s3://`` or ``den-data://`` location), ``trainer_config`` (TrainerConfig keys),
``name`` / ``aliases`` (den name of the result). The default den and component
factory are used. Only the module's signature is read by caikit (so it must use
``typing.Optional`` / ``List``); this implementation takes the same parameters.

Wiring in ``medcat_den/caikit/module.py`` (inside ``class MedCATModule``; the import is
lazy because this package imports the module; ``List``/``Optional`` from ``typing`` and
``JsonDict`` from ``caikit.core.data_model.json_dict``, since caikit cannot read
``X | None`` in signatures)::

    @classmethod
    def train(cls, base_model: str, train_data: str, eval_data: Optional[str] = None,
              trainer_config: Optional[JsonDict] = None, name: Optional[str] = None,
              aliases: Optional[List[str]] = None) -> "MedCATModule":
        '''Fine-tune the base model's trainable linker; the result is pushed to the den.'''
        from medcat_den.caikit.trainers.train_api import train_medcat_linker

        return train_medcat_linker(cls, base_model, train_data, eval_data=eval_data,
                                   trainer_config=trainer_config, name=name, aliases=aliases)
"""

from __future__ import annotations

import tempfile
import uuid
from typing import Any

from medcat_den.caikit.den_access import fetch_cat, open_den
from medcat_den.caikit.trainers.components import DEFAULT_FACTORY
from medcat_den.caikit.trainers.job_runner import push_result, train_to_pack
from medcat_den.caikit.trainers.request import ResultSettings, job_spec
from medcat_den.errors import ConfigError
from medcat_den.training import CancellationToken, TrainerConfig


def train_medcat_linker(cls: Any, base_model: str, train_data: str, *,
                        eval_data: str | None = None,
                        trainer_config: dict[str, Any] | None = None, name: str | None = None,
                        aliases: list[str] | None = None) -> Any:
    """Fine-tune the base model's trainable embedding linker and push the result to the den."""
    if not base_model:
        raise ConfigError("base_model (a den ref or content id) is required")
    result = ResultSettings(config=TrainerConfig.from_any(dict(trainer_config or {})),
                            name=name or None, aliases=list(aliases or []))
    job_id = f"sync:{uuid.uuid4().hex}"
    with tempfile.TemporaryDirectory(prefix="medcat-den-train-") as scratch:
        spec = job_spec(training_id=job_id, job_uuid=job_id, trainer_name="LOCAL",
                        base_model=base_model, train_data=train_data,
                        eval_data=eval_data or None, result=result, factory=DEFAULT_FACTORY,
                        den={}, scratch=scratch, cancel_file=None)
        outcome = train_to_pack(spec, lambda _progress: None, CancellationToken())
        info = push_result(spec, outcome)
    return cls(fetch_cat(open_den({}), info.model_id), den_model_id=info.model_id)
