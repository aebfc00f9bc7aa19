"""Which den to open, as a small serialisable record (caikit finder configs, training jobs).

Keys (all optional; unset = the ``get_default_den()`` resolution: environment, then the user's
local den)::

    den_type:        backend type (LOCAL_USER, LOCAL_MACHINE, S3, ...)
    den_path:        folder of a local den (or the backend's path setting)
    den_config_file: a den YAML config naming backends
    den_backend:     which backend of that config file
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from medcat_den.den.den import Den
from medcat_den.den.resolver import get_default_den
from medcat_den.errors import ConfigError

DEN_SPEC_KEYS = ("den_type", "den_path", "den_config_file", "den_backend")


class DenSpec(BaseModel):
    """Which den a job opens (unset fields: the ``get_default_den()`` resolution)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    den_type: str | None = None
    den_path: str | None = None
    den_config_file: str | None = None
    den_backend: str | None = None

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any], owner: str = "den") -> DenSpec:
        """The den keys of a trainer config (other keys are ignored)."""
        values: dict[str, str] = {}
        for key in DEN_SPEC_KEYS:
            value = config.get(key)
            if value is None or value == "":
                continue
            if not isinstance(value, str):
                raise ConfigError(f"{owner}: {key} must be a string, got {type(value).__name__}")
            values[key] = value
        return cls(**values)

    def open(self) -> Den:
        return get_default_den(den_type=self.den_type or None, path=self.den_path or None,
                               config_file=self.den_config_file or None,
                               backend_name=self.den_backend or None)
