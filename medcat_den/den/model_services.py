"""The den's registry of model services: who runs ``finetune_model`` / ``evaluate_model``.

Config: none. Training and evaluation live in layers above the den (linking, training,
jobs), which the den must not import. A higher layer registers a :class:`ModelService`
here (``medcat_den.compat`` does so when imported; every medcat-den 0.6.0 module path
imports it, and it is a ``medcat_den.addons`` entry point, loaded on first need); the
den's 0.6.0 methods look it up and, with none registered, raise
:class:`~medcat_den.errors.UnsupportedAPIException` saying what to import.
See adrs/0902-model-services-registry.md.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol, runtime_checkable

from medcat_den.errors import UnsupportedAPIException


@runtime_checkable
class ModelService(Protocol):
    """Fine-tunes / evaluates a den model; ``den`` is the :class:`~medcat_den.den.Den`."""

    def finetune(self, den: Any, model_id: str, data: Any) -> Any:
        """Train the model ``model_id`` of ``den`` on ``data``; push and return the result's info."""
        ...

    def evaluate(self, den: Any, model_id: str, data: Any) -> dict[str, Any]:
        """Precision / recall / F1 (and more) of the model ``model_id`` of ``den`` on ``data``."""
        ...


_lock = threading.Lock()
_service: ModelService | None = None

HOW_TO_ENABLE = ("import medcat_den.compat (any medcat-den 0.6.0 module, e.g. medcat_den.base, "
                 "imports it) or call medcat_den.den.model_services.register_model_service()")


def register_model_service(service: ModelService | None) -> ModelService | None:
    """Make ``service`` the one the den uses (None removes it); return the previous one."""
    global _service
    if service is not None and not isinstance(service, ModelService):
        raise TypeError(f"{type(service).__name__} has no finetune()/evaluate() methods")
    with _lock:
        previous, _service = _service, service
    return previous


def get_model_service(what: str) -> ModelService:
    """The registered service; UnsupportedAPIException naming ``what`` if there is none."""
    with _lock:
        service = _service
    if service is None:
        # add-ons (entry points "medcat_den.addons", e.g. medcat_den.compat) may register one
        from medcat_den.addons import _load_addons

        _load_addons()
        with _lock:
            service = _service
    if service is None:
        raise UnsupportedAPIException(
            f"{what} needs the training layer, which is not loaded: {HOW_TO_ENABLE}")
    return service
