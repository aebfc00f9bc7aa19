"""The local cache of remote dens: verified blobs, pins, eviction and offline use."""

from __future__ import annotations

from medcat_den.cache.blob_cache import BlobCache, CacheEntry
from medcat_den.cache.cached_backend import CachedBackend, unwrap
from medcat_den.cache.local_cache import LocalCache  # medcat-den 0.6.0's
from medcat_den.cache.settings import CacheSettings


def cache_for_remote(offline: bool = False) -> BlobCache:
    """The cache configured by the ``MEDCAT_DEN_LOCAL_CACHE_*`` environment variables."""
    return BlobCache(CacheSettings.from_env(), offline=offline)


__all__ = ["BlobCache", "CacheEntry", "CacheSettings", "CachedBackend", "LocalCache",
           "cache_for_remote", "unwrap"]
