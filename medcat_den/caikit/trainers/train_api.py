"""The ``train`` signature of the MedCAT caikit module (what caikit runtime exposes as the
``EntityLinkingTaskMedCATModuleTrain`` HTTP route) and its synchronous implementation.

caikit runtime's training endpoint calls ``ModelManager.train(MedCATModule, ...)`` with
these parameters; with the ``MEDCAT_EMBEDDING_LINKER`` trainer as the ``default``
trainer they become a background job. A plain caikit ``LOCAL`` trainer instead calls
this function, which does the same work synchronously in the calling thread:
``base_model`` (den ref / content id), ``train_data`` and ``eval_data`` (a path,
``s3://`` or ``den-data://`` location), ``trainer_config`` (TrainerConfig keys),
``name`` / ``aliases`` (den name of the result). The default den and component
factory are used.

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

        return train_medcat_linker(cls, base_model, train_data, eval_data, trainer_config,
                                   name, aliases)
"""

# No `from __future__ import annotations`: caikit reads this signature at class creation.
import tempfile
import uuid
from typing import Any, List, Optional  # noqa: UP035  (caikit needs typing.Optional)

from caikit.core.data_model.json_dict import JsonDict

from medcat_den.caikit.den_access import fetch_cat, open_den
from medcat_den.caikit.trainers.components import DEFAULT_FACTORY
from medcat_den.caikit.trainers.job_runner import push_result, train_to_pack
from medcat_den.errors import ConfigError
from medcat_den.training import CancellationToken, TrainerConfig


def train_medcat_linker(
    cls: Any,
    base_model: str,
    train_data: str,
    eval_data: Optional[str] = None,  # noqa: UP045
    trainer_config: Optional[JsonDict] = None,  # noqa: UP045
    name: Optional[str] = None,  # noqa: UP045
    aliases: Optional[List[str]] = None,  # noqa: UP006, UP045
) -> Any:
    """Fine-tune the base model's trainable embedding linker and push the result to the den."""
    if not base_model:
        raise ConfigError("base_model (a den ref or content id) is required")
    config = TrainerConfig.from_any(dict(trainer_config or {}))
    job_id = f"sync:{uuid.uuid4().hex}"
    with tempfile.TemporaryDirectory(prefix="medcat-den-train-") as scratch:
        spec = {
            "id": job_id, "uuid": job_id, "trainer_name": "LOCAL", "base_model": base_model,
            "train_data": train_data, "eval_data": eval_data or None,
            "trainer_config": config.model_dump(mode="json"),
            "component_factory": DEFAULT_FACTORY, "den": {}, "scratch": scratch,
            "cancel_file": None, "name": name or None, "aliases": list(aliases or []),
        }
        outcome = train_to_pack(spec, lambda _progress: None, CancellationToken())
        info = push_result(spec, outcome)
    return cls(fetch_cat(open_den({}), info.model_id), den_model_id=info.model_id)
