"""medcat-den 0.6.0's ``medcat_den.base``: ``ModelInfo`` (``model_id``, ``model_card``, ``base_model``).

Config: none. ``ModelInfo`` is :class:`medcat_den.den.legacy_model_info.LegacyModelInfo`,
one of our den's ModelInfo records with 0.6.0's fields; every den method takes it.
"""

from medcat.data.model_card import ModelCard

import medcat_den.compat  # noqa: F401  (registers finetune_model / evaluate_model)
from medcat_den.den.legacy_model_info import LegacyModelInfo as ModelInfo

__all__ = ["ModelCard", "ModelInfo"]
