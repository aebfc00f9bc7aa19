"""The local cache of remote dens: verified blobs, pins, eviction and offline use."""

from __future__ import annotations

from medcat_den.cache.blob_cache import BlobCache, CacheEntry
from medcat_den.cache.cached_backend import CachedBackend, unwrap
from medcat_den.cache.local_cache import LocalCache  # medcat-den 0.6.0's
from medcat_den.cache.settings import CacheSettings


def cache_for_remote() -> BlobCache:
    """The cache configured by the ``MEDCAT_DEN_LOCAL_CACHE_*`` environment variables.

    Offline mode is not the cache's: ``CachedBackend`` owns it.
    """
    return BlobCache(CacheSettings.from_env())


__all__ = ["BlobCache", "CacheEntry", "CacheSettings", "CachedBackend", "LocalCache",
           "cache_for_remote", "unwrap"]
