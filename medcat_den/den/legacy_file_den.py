"""medcat-den 0.6.0's ``LocalFileDen``: a local den from a ``LocalDenConfig``.

Config: ``cnf`` (:class:`medcat_den.config.LocalDenConfig`: ``type``, ``location``).
It is our :class:`~medcat_den.den.Den` over a local folder backend rooted at
``location`` (0.6.0 kept an sqlite registry under ``location/.medcat-den``; ours keeps
manifests and name refs in the folder itself, see the migration guide).
"""

from __future__ import annotations

from medcat_den.config import LocalDenConfig
from medcat_den.den.den import Den
from medcat_den.den.resolver import create_backend
from medcat_den.errors import ConfigError


class LocalFileDen(Den):
    """A :class:`~medcat_den.den.Den` built from 0.6.0's ``LocalDenConfig``."""

    def __init__(self, cnf: LocalDenConfig) -> None:
        if not cnf.type.is_local():
            raise ConfigError(f"LocalFileDen needs a local den type, not {cnf.type.value}")
        self._cnf = cnf
        backend = create_backend(cnf.type.value.upper(), {"root": str(cnf.location)})
        super().__init__(backend)
        self._legacy_type = cnf.type
