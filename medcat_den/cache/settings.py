"""``CacheSettings``: where the local cache of remote dens lives and how big it may grow.

Config keys (environment variable in brackets):
    path (``MEDCAT_DEN_LOCAL_CACHE_PATH``): default ``<user cache dir>/medcat_den/blobs``.
    expiration_time (``MEDCAT_DEN_LOCAL_CACHE_EXPIRATION_TIME``): seconds an entry may go
        unused before ``prune`` removes it; default 10 days.
    max_size (``MEDCAT_DEN_LOCAL_CACHE_MAX_SIZE``): bytes; everything under ``path``
        counts; default 100 GB.
    eviction_policy (``MEDCAT_DEN_LOCAL_CACHE_EVICTION_POLICY``): ``LRU`` (default),
        ``LFU`` or ``FIFO``; decides what goes first when the cache is over ``max_size``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import platformdirs
from pydantic import BaseModel, ConfigDict

from medcat_den.errors import ConfigError

ENV_PATH = "MEDCAT_DEN_LOCAL_CACHE_PATH"
ENV_EXPIRATION = "MEDCAT_DEN_LOCAL_CACHE_EXPIRATION_TIME"
ENV_MAX_SIZE = "MEDCAT_DEN_LOCAL_CACHE_MAX_SIZE"
ENV_POLICY = "MEDCAT_DEN_LOCAL_CACHE_EVICTION_POLICY"
POLICIES = ("LRU", "LFU", "FIFO")
DEFAULT_EXPIRATION = 10 * 24 * 3600
DEFAULT_MAX_SIZE = 100 * 10**9


class CacheSettings(BaseModel):
    """Validated cache settings (see the module docstring for the keys)."""

    model_config = ConfigDict(frozen=True)

    path: str
    expiration_time: float = DEFAULT_EXPIRATION
    max_size: int = DEFAULT_MAX_SIZE
    eviction_policy: str = "LRU"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> CacheSettings:
        """Settings from ``overrides`` > the environment > defaults; ConfigError on bad values."""
        env = os.environ if env is None else env
        path = overrides.get("path") or env.get(ENV_PATH) or os.path.join(
            platformdirs.user_cache_dir("medcat_den"), "blobs")
        expiration = _number(overrides.get("expiration_time", env.get(ENV_EXPIRATION)),
                             ENV_EXPIRATION, DEFAULT_EXPIRATION)
        max_size = _number(overrides.get("max_size", env.get(ENV_MAX_SIZE)), ENV_MAX_SIZE,
                           DEFAULT_MAX_SIZE)
        policy = str(overrides.get("eviction_policy") or env.get(ENV_POLICY) or "LRU")
        if policy.strip().upper() not in POLICIES:
            raise ConfigError(f"invalid {ENV_POLICY} {policy!r}: use one of {', '.join(POLICIES)}")
        return cls(path=os.path.abspath(os.path.expanduser(str(path))),
                   expiration_time=expiration, max_size=int(max_size),
                   eviction_policy=policy.strip().upper())


def _number(value: object, name: str, default: float) -> float:
    if value is None or value == "":
        return default
    try:
        number = float(str(value).strip())
    except ValueError:
        raise ConfigError(f"invalid {name} {value!r}: expected a number") from None
    if number < 0 or number != number:
        raise ConfigError(f"invalid {name} {value!r}: must be >= 0")
    return number
