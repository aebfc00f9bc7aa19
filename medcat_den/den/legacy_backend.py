"""medcat-den 0.6.0's ``DenBackend`` protocol (``medcat_den.den.DenBackend``).

Config: none. Our :class:`~medcat_den.den.Den` implements it (through
:class:`~medcat_den.den.legacy_api.LegacyDenAPI`); a 0.6.0-style remote den class given
to :func:`medcat_den.backend.register_remote_den` must implement it too.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class DenBackend(Protocol):
    """What a 0.6.0 den backend offers (every method takes 0.6.0's ``backend_name``)."""

    @property
    def den_type(self) -> Any: ...

    def list_available_models(self, backend_name: str | None = None) -> list[Any]: ...

    def list_available_base_models(self, backend_name: str | None = None) -> list[Any]: ...

    def list_available_derivative_models(self, model: Any,
                                         backend_name: str | None = None) -> list[Any]: ...

    def has_model(self, model: Any, backend_name: str | None = None) -> bool: ...

    def fetch_model(self, model_info: Any, backend_name: str | None = None) -> Any: ...

    def push_model(self, cat: Any, description: str, backend_name: str | None = None,
                   push_unchanged: bool = False) -> Any: ...

    def _push_model_from_file(self, file_path: str, description: str,
                              backend_name: str | None = None) -> Any: ...

    def delete_model(self, model_info: Any, allow_delete_base_models: bool = False,
                     backend_name: str | None = None) -> None: ...

    def finetune_model(self, model_info: Any, data: Any,
                       backend_name: str | None = None) -> Any: ...

    def evaluate_model(self, model_info: Any, data: Any,
                       backend_name: str | None = None) -> dict[str, Any]: ...

    def move_model(self, model_info: Any, origin: str, destination: str) -> None: ...

    def sync_backend(self, origin: str, destination: str) -> None: ...
