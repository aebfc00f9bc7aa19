"""medcat-den 0.6.0's ``medcat_den.backend``: ``DenType`` and the remote-den class registry.

Config: none. A registered class is built as ``cls(cnf=RemoteDenConfig(...))`` by
:func:`medcat_den.resolver.resolve_from_config` and must implement
:class:`medcat_den.den.DenBackend` (0.6.0's protocol); a multi-backend den routes
``backend_name=`` calls to it. Stdlib only, so every layer may import it.
"""

from __future__ import annotations

from enum import Enum


class DenType(str, Enum):
    """Kinds of den (0.6.0's values, plus ``s3`` for our S3 backend)."""

    LOCAL_USER = "local_user"
    LOCAL_MACHINE = "local_machine"
    MEDCATTERY = "medcattery"
    MULTI_BACKEND = "multi_backend"
    S3 = "s3"

    def is_local(self) -> bool:
        return self in (DenType.LOCAL_USER, DenType.LOCAL_MACHINE)

    @classmethod
    def _missing_(cls, value: object) -> DenType | None:
        # our environment accepts LOCAL_USER etc. (upper case); 0.6.0's the lower-case values
        if isinstance(value, str):
            for member in cls:
                if member.value == value.strip().lower():
                    return member
        return None


_remote_den_map: dict[DenType, type] = {}


def register_remote_den(den_type: DenType, den_cls: type) -> None:
    """Register a remote den class for a (non-local) den type; ValueError if local or taken."""
    if den_type.is_local():
        raise ValueError("Can only register remote dens")
    if den_type in _remote_den_map:
        raise ValueError(f"Den type {den_type} already registered")
    _remote_den_map[den_type] = den_cls


def has_registered_remote_den(den_type: DenType) -> bool:
    """Whether a class is registered for ``den_type``; ValueError for local types."""
    if den_type.is_local():
        raise ValueError("Can only check remote dens")
    return den_type in _remote_den_map


def get_registered_remote_den(den_type: DenType) -> type:
    """The class registered for ``den_type``; ValueError if local or none registered."""
    if den_type.is_local():
        raise ValueError("Can only get remote dens")
    if den_type not in _remote_den_map:
        raise ValueError(f"Den type {den_type} not registered")
    return _remote_den_map[den_type]
