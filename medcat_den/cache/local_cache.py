"""medcat-den 0.6.0's ``LocalCache``: a key -> file cache, kept in our verified blob cache.

Config (``cnf``, :class:`medcat_den.config.LocalCacheConfig`): ``path``,
``expiration_time`` (s), ``max_size`` (bytes), ``eviction_policy``
(``least-recently-used`` / ``least-frequently-used`` / ``least-recently-stored`` /
``none``, or ours: ``LRU`` / ``LFU`` / ``FIFO``).

The bytes live in a :class:`~medcat_den.cache.BlobCache` at ``path`` (content-addressed,
hash-checked, evicted by its policy); a key names a blob through a small pointer file
under ``path/keys``. ``add_to_den(den)`` makes it the den's cache of remote blobs.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from typing import Any

from medcat_den.cache.blob_cache import BlobCache
from medcat_den.cache.settings import CacheSettings
from medcat_den.config import LocalCacheConfig
from medcat_den.errors import ConfigError
from medcat_den.pack.integrity import sha256_file
from medcat_den.storage.backend import StoreBackend

DEFAULT_EXPIRATION_TIME = 10 * 24 * 60 * 60  # 10 days
DEFAULT_MAX_SIZE = 100 * 2**30  # 100 GB total
DEFAULT_EVICTION_POLICY = 'least-recently-used'

_POLICIES = {"least-recently-used": "LRU", "least-frequently-used": "LFU",
             "least-recently-stored": "FIFO", "lru": "LRU", "lfu": "LFU", "fifo": "FIFO",
             "none": "LRU"}
_UNLIMITED = 2**62


def _settings(cnf: LocalCacheConfig) -> CacheSettings:
    policy = _POLICIES.get(cnf.eviction_policy.strip().lower())
    if policy is None:
        raise ConfigError(f"unknown eviction_policy {cnf.eviction_policy!r}: use one of "
                          f"{', '.join(sorted(_POLICIES))}")
    unlimited = cnf.eviction_policy.strip().lower() == "none"
    return CacheSettings(path=os.path.abspath(str(cnf.path)),
                         expiration_time=float(cnf.expiration_time),
                         max_size=_UNLIMITED if unlimited else int(cnf.max_size),
                         eviction_policy=policy)


class LocalCache:
    """0.6.0's key -> file cache (see the module docstring)."""

    def __init__(self, cnf: LocalCacheConfig) -> None:
        self._cnf = cnf
        self._cache_path = str(cnf.path)
        self.cache = BlobCache(_settings(cnf))
        self._keys = os.path.join(self.cache.root, "keys")

    def _key_file(self, key: str) -> str:
        return os.path.join(self._keys, hashlib.sha256(key.encode()).hexdigest())

    def _sha(self, key: str) -> str | None:
        try:
            with open(self._key_file(key), encoding="ascii") as f:
                return f.read().strip() or None
        except OSError:
            return None

    def get(self, key: str) -> str:
        """The cached file's path; ValueError if the key is not cached (or evicted)."""
        sha = self._sha(key)
        path = self.cache.cached_path(sha) if sha else None
        if path is None:
            raise ValueError(f"The key {key} is not in the cache or has expired")
        return path

    def insert(self, key: str, file_path: str) -> None:
        """Cache the file at ``file_path`` under ``key``."""
        sha = sha256_file(file_path)
        self.cache.add_file(sha, file_path)
        os.makedirs(self._keys, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self._keys, prefix=".key-")
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(sha)
        os.replace(tmp, self._key_file(key))

    def insert_raw(self, key: str, data: bytes) -> None:
        """Cache ``data`` under ``key``."""
        fd, tmp = tempfile.mkstemp(prefix=".raw-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            self.insert(key, tmp)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)

    def delete(self, key: str) -> None:
        """Forget ``key`` (its bytes go with the blob cache's eviction)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._key_file(key))

    def __getitem__(self, key: str) -> str:
        return self.get(key)

    def __contains__(self, key: str) -> bool:
        sha = self._sha(key)
        return bool(sha) and os.path.exists(self.cache.blob_path(sha or ""))

    def __setitem__(self, key: str, file: str | bytes) -> None:
        if isinstance(file, str):
            self.insert(key, file)
        else:
            self.insert_raw(key, file)

    def __delitem__(self, key: str) -> None:
        self.delete(key)

    # the den's BlobCache hook, so a LocalCache can be a den's cache
    def ensure_blob(self, backend: StoreBackend, key: str, sha256: str, size: int) -> str:
        return self.cache.ensure_blob(backend, key, sha256, size)

    def add_to_den(self, backend: Any) -> None:
        """Make this the cache of ``backend`` (a den): its remote blobs are kept here."""
        backend.cache = self


def has_local_cache(backend: Any) -> bool:
    """Whether ``backend`` (a den) has a :class:`LocalCache`."""
    return isinstance(getattr(backend, "cache", None), LocalCache)
