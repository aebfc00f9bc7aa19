"""``CachedBackend``: a remote backend seen through the local cache (and usable offline).

Config keys:
    backend (StoreBackend): the remote den's backend.
    cache (BlobCache): where verified blobs, manifests and name snapshots are kept.
    offline (bool): serve only from the cache; anything else raises OfflineError.

Blobs are read through :meth:`BlobCache.ensure_blob` (verified, downloaded once);
``local_path`` of a blob key is its verified cached copy. Manifests and catalog
entries / checkpoints are immutable, so a copy is kept on first read (the den
checks manifests against their content ids), which also makes later catalog reads
cost only the listings. Every ref read online is snapshotted, so ``den://name``
refs resolve offline to what was last seen. Writes always go to the remote
backend (refused offline).

This class is the one owner of offline mode: the den asks it, nobody else keeps a flag.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from collections.abc import Iterator
from typing import BinaryIO

from medcat_den.cache.blob_cache import BlobCache
from medcat_den.errors import OfflineError
from medcat_den.pack.layout import blob_sha, is_cacheable_meta
from medcat_den.storage import fsutil
from medcat_den.storage.backend import ObjectInfo, StoreBackend, validate_key

_OFFLINE_TOKEN = "offline-snapshot"
_blob_sha = blob_sha


class CachedBackend(StoreBackend):
    """Reads of a remote backend served from (and recorded in) a BlobCache."""

    is_local = False

    def __init__(self, backend: StoreBackend, cache: BlobCache, offline: bool = False) -> None:
        self.inner = backend
        self.cache = cache
        self.offline = offline
        namespace = hashlib.sha256(backend.describe().encode()).hexdigest()[:16]
        self.meta_root = os.path.join(cache.root, "meta", namespace)
        self.tmp_dir: str | None = cache.tmp_dir  # pack folders are hard-linked from the cache
        os.makedirs(self.meta_root, exist_ok=True)
        with contextlib.suppress(OSError):
            with open(os.path.join(self.meta_root, "DEN"), "w", encoding="utf-8") as f:
                f.write(backend.describe() + "\n")

    # --- helpers -------------------------------------------------------------------
    def _meta(self, kind: str, key: str) -> str:
        return os.path.join(self.meta_root, kind, *validate_key(key).split("/"))

    def _save(self, kind: str, key: str, data: bytes) -> None:
        path = self._meta(kind, key)
        with contextlib.suppress(OSError):
            if os.path.getsize(path) == len(data):
                with open(path, "rb") as f:
                    if f.read() == data:
                        return  # unchanged: no write, no fsync

        def fill(f: BinaryIO) -> None:
            f.write(data)

        tmp = fsutil.write_temp(self.cache.tmp_dir, fill)
        fsutil.replace_atomically(tmp, path)

    def _offline(self, what: str) -> OfflineError:
        return OfflineError(
            f"offline mode (MEDCAT_DEN_OFFLINE): cannot {what} on {self.inner.describe()}; "
            "unset MEDCAT_DEN_OFFLINE to reach the remote den")

    def _walk_meta(self, kind: str, prefix: str) -> Iterator[str]:
        base = os.path.join(self.meta_root, kind)
        for dirpath, _dirs, files in os.walk(base):
            rel = os.path.relpath(dirpath, base).replace(os.sep, "/")
            for fn in files:
                key = fn if rel == "." else f"{rel}/{fn}"
                if key.startswith(prefix):
                    yield key

    # --- objects -----------------------------------------------------------------------
    def get_bytes(self, key: str) -> bytes:
        sha = _blob_sha(key)
        if sha is not None:
            with open(self._ensure(key, sha), "rb") as f:
                return f.read()
        if is_cacheable_meta(key):
            path = self._meta("objects", key)
            try:
                with open(path, "rb") as f:
                    return f.read()
            except FileNotFoundError:
                if self.offline:
                    raise self._offline(f"read {key} (not cached)") from None
            data = self.inner.get_bytes(key)
            self._save("objects", key, data)
            return data
        if self.offline:
            raise self._offline(f"read {key}")
        return self.inner.get_bytes(key)

    def _ensure(self, key: str, sha: str) -> str:
        hit = self.cache.cached_path(sha)
        if hit is not None:
            return hit
        if self.offline:
            raise self._offline(f"download blob {sha[:16]}… (not cached)")
        return self.cache.ensure_blob(self.inner, key, sha, -1)

    def get_file(self, key: str, dest_path: str) -> None:
        sha = _blob_sha(key)
        if sha is not None:
            shutil.copyfile(self._ensure(key, sha), dest_path)
            return
        data = self.get_bytes(key)
        with open(dest_path, "wb") as f:
            f.write(data)

    def put_file_if_absent(self, key: str, src_path: str) -> bool:
        if self.offline:
            raise self._offline(f"write {key}")
        return self.inner.put_file_if_absent(key, src_path)

    def put_bytes_if_absent(self, key: str, data: bytes) -> bool:
        if self.offline:
            raise self._offline(f"write {key}")
        return self.inner.put_bytes_if_absent(key, data)

    def exists(self, key: str) -> bool:
        if not self.offline:
            return self.inner.exists(key)
        sha = _blob_sha(key)
        if sha is not None:
            return os.path.exists(self.cache.blob_path(sha))
        return os.path.exists(self._meta("objects", key))

    def list_keys(self, prefix: str) -> Iterator[str]:
        if not self.offline:
            return self.inner.list_keys(prefix)
        return self._walk_meta("objects", prefix)

    def list_entries(self, prefix: str, start_after: str | None = None) -> Iterator[ObjectInfo]:
        if not self.offline:
            return self.inner.list_entries(prefix, start_after)
        keys = sorted(k for k in self._walk_meta("objects", prefix)
                      if start_after is None or k > start_after)
        return iter([ObjectInfo(k, None, None) for k in keys])

    def local_path(self, key: str) -> str | None:
        """A blob's verified copy in the cache (downloaded now if needed)."""
        sha = _blob_sha(key)
        return self._ensure(key, sha) if sha is not None else None

    def check_guarantees(self) -> list[str]:
        return self.inner.check_guarantees()

    def refresh(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._meta("objects", key))

    def delete(self, key: str) -> None:
        if self.offline:
            raise self._offline(f"delete {key}")
        self.inner.delete(key)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._meta("objects", key))

    # --- refs ------------------------------------------------------------------------------
    def read_ref(self, key: str) -> tuple[bytes, str] | None:
        path = self._meta("refs", key)
        if self.offline:
            try:
                with open(path, "rb") as f:
                    return f.read(), _OFFLINE_TOKEN
            except FileNotFoundError:
                return None
        got = self.inner.read_ref(key)
        if got is None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        else:
            self._save("refs", key, got[0])
        return got

    def write_ref(self, key: str, data: bytes | None, expected_token: str | None) -> bool:
        if self.offline:
            raise self._offline(f"update {key}")
        ok = self.inner.write_ref(key, data, expected_token)
        if ok:
            if data is None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self._meta("refs", key))
            else:
                self._save("refs", key, data)
        return ok

    def list_refs(self, prefix: str) -> Iterator[str]:
        if not self.offline:
            return self.inner.list_refs(prefix)
        return self._walk_meta("refs", prefix)

    def describe(self) -> str:
        return self.inner.describe()

    def __repr__(self) -> str:
        return f"CachedBackend({self.inner.describe()}, {self.cache!r})"


def unwrap(backend: StoreBackend) -> StoreBackend:
    """The remote backend behind a CachedBackend (or ``backend`` itself)."""
    return backend.inner if isinstance(backend, CachedBackend) else backend
