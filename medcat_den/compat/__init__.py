"""medcat-den 0.6.0 compatibility above the den: fine-tuning and evaluation services.

Importing this package registers :class:`~medcat_den.compat.model_service.CompatModelService`
with the den (:mod:`medcat_den.den.model_services`), which gives
``Den.finetune_model`` / ``Den.evaluate_model`` their implementation. Every 0.6.0
module path (``medcat_den.base``, ``medcat_den.backend`` users reach it through
``medcat_den.resolver``, ``medcat_den.wrappers``, ...) imports it. See
docs/migrating-from-medcat-den.md.
"""

from medcat_den.compat.model_service import CompatModelService, ensure_registered

ensure_registered()

__all__ = ["CompatModelService", "ensure_registered"]
