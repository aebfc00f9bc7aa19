"""medcat-den 0.6.0's ``medcat_den.config``: the den and local-cache config records.

Config keys: ``type`` (:class:`~medcat_den.backend.DenType`); local dens ``location``;
remote dens ``host``, ``credentials``, ``allow_local_fine_tune``, ``allow_push_fine_tuned``;
the local cache ``path``, ``expiration_time`` (s), ``max_size`` (bytes), ``eviction_policy``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from medcat_den.backend import DenType


class DenConfig(BaseModel):
    type: DenType


class LocalDenConfig(DenConfig):
    location: str | Path


class RemoteDenConfig(DenConfig):
    host: str
    credentials: dict[str, Any] | None = None
    allow_local_fine_tune: bool
    allow_push_fine_tuned: bool


class LocalCacheConfig(BaseModel):
    path: str | Path
    expiration_time: int
    max_size: int
    eviction_policy: str
