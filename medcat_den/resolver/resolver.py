"""medcat-den 0.6.0's ``medcat_den.resolver.resolver``: backends from arguments / environment.

Environment: 0.6.0's ``MEDCAT_DEN_*`` variables (names below), read by our resolver
(:mod:`medcat_den.den.resolver`, :mod:`medcat_den.den.legacy_resolver`). ``resolve``
returns 0.6.0's ``(backends by name, default name)``: ``{"default": den}`` for a single
den, the named backends of ``MEDCAT_DEN_BACKENDS_JSON`` otherwise.
"""

from __future__ import annotations

import os
from typing import Any

import medcat_den.compat  # noqa: F401  (registers finetune_model / evaluate_model)
from medcat_den.backend import DenType
from medcat_den.den.legacy_api import DEFAULT_BACKEND
from medcat_den.den.legacy_resolver import (
    ALLOW_OPTION_LOWERCASE,
    MEDCAT_DEN_BACKENDS_JSON,
    get_default_den,
    resolve_multi_backend,
)
from medcat_den.den.legacy_resolver import resolve_from_config as _resolve_from_config
from medcat_den.den.resolver import default_local_root

__all__ = ["ALLOW_OPTION_LOWERCASE", "DEFAULT_MACHINE_PATH", "DEFAULT_USER_PATH",
           "MEDCAT_DEN_BACKENDS_JSON", "MEDCAT_DEN_LOCAL_CACHE_EVICTION_POLICY",
           "MEDCAT_DEN_LOCAL_CACHE_EXPIRATION_TIME", "MEDCAT_DEN_LOCAL_CACHE_MAX_SIZE",
           "MEDCAT_DEN_LOCAL_CACHE_PATH", "MEDCAT_DEN_PATH", "MEDCAT_DEN_REMOTE_ALLOW_LOCAL_FINE_TUNE",
           "MEDCAT_DEN_REMOTE_ALLOW_PUSH_FINETUNED", "MEDCAT_DEN_REMOTE_HOST", "MEDCAT_DEN_TYPE",
           "is_writable", "resolve", "resolve_from_config"]

DEFAULT_USER_PATH = default_local_root("LOCAL_USER")
DEFAULT_MACHINE_PATH = default_local_root("LOCAL_MACHINE")

MEDCAT_DEN_TYPE = "MEDCAT_DEN_TYPE"
MEDCAT_DEN_PATH = "MEDCAT_DEN_PATH"
MEDCAT_DEN_REMOTE_HOST = "MEDCAT_DEN_REMOTE_HOST"
MEDCAT_DEN_LOCAL_CACHE_PATH = "MEDCAT_DEN_LOCAL_CACHE_PATH"
MEDCAT_DEN_LOCAL_CACHE_EXPIRATION_TIME = "MEDCAT_DEN_LOCAL_CACHE_EXPIRATION_TIME"
MEDCAT_DEN_LOCAL_CACHE_MAX_SIZE = "MEDCAT_DEN_LOCAL_CACHE_MAX_SIZE"
MEDCAT_DEN_LOCAL_CACHE_EVICTION_POLICY = "MEDCAT_DEN_LOCAL_CACHE_EVICTION_POLICY"
MEDCAT_DEN_REMOTE_ALLOW_LOCAL_FINE_TUNE = "MEDCAT_DEN_REMOTE_ALLOW_LOCAL_FINE_TUNE"
MEDCAT_DEN_REMOTE_ALLOW_PUSH_FINETUNED = "MEDCAT_DEN_REMOTE_ALLOW_PUSH_FINETUNED"


def is_writable(path: str, propgate: bool = True) -> bool:
    """0.6.0: whether ``path`` (or, if missing, its parent) is writable."""
    if os.path.exists(path):
        return os.access(path, os.W_OK)
    if not propgate:
        return False
    return is_writable(os.path.dirname(path), propgate=False)


def resolve(
    type_: DenType | None = None,
    location: str | None = None,
    host: str | None = None,
    credentials: dict[str, Any] | None = None,
    local_cache_path: str | None = None,
    expiration_time: int | None = None,
    max_size: int | None = None,
    eviction_policy: str | None = None,
    remote_allow_local_fine_tune: str | None = None,
    remote_allow_push_fine_tuned: str | None = None,
    allow_multi_backend: bool = True,
) -> tuple[dict[str, Any], str]:
    """0.6.0: ``(backends by name, default backend name)``; MEDCAT_DEN_BACKENDS_JSON first."""
    multi = os.environ.get(MEDCAT_DEN_BACKENDS_JSON)
    if multi and allow_multi_backend:
        return resolve_multi_backend(multi)
    den = get_default_den(
        type_=type_ or os.environ.get(MEDCAT_DEN_TYPE) or DenType.LOCAL_USER,
        location=location, host=host, credentials=credentials,
        local_cache_path=local_cache_path, expiration_time=expiration_time, max_size=max_size,
        eviction_policy=eviction_policy, remote_allow_local_fine_tune=remote_allow_local_fine_tune,
        remote_allow_push_fine_tuned=remote_allow_push_fine_tuned)
    cache_path = local_cache_path or os.environ.get(MEDCAT_DEN_LOCAL_CACHE_PATH)
    if cache_path:  # 0.6.0 gives the den a local cache whenever one is configured
        from medcat_den.cache.local_cache import (
            DEFAULT_EVICTION_POLICY,
            DEFAULT_EXPIRATION_TIME,
            DEFAULT_MAX_SIZE,
            LocalCache,
        )
        from medcat_den.config import LocalCacheConfig

        LocalCache(LocalCacheConfig(
            path=cache_path,
            expiration_time=expiration_time or int(os.environ.get(
                MEDCAT_DEN_LOCAL_CACHE_EXPIRATION_TIME, DEFAULT_EXPIRATION_TIME)),
            max_size=max_size or int(os.environ.get(MEDCAT_DEN_LOCAL_CACHE_MAX_SIZE,
                                                    DEFAULT_MAX_SIZE)),
            eviction_policy=str(eviction_policy or os.environ.get(
                MEDCAT_DEN_LOCAL_CACHE_EVICTION_POLICY, DEFAULT_EVICTION_POLICY)),
        )).add_to_den(den)
    return {DEFAULT_BACKEND: den}, DEFAULT_BACKEND


def resolve_from_config(config: Any) -> Any:
    """0.6.0: the den (or registered remote den) for a ``LocalDenConfig`` / ``RemoteDenConfig``."""
    return _resolve_from_config(config)
