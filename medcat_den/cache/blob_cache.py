"""``BlobCache``: a verified, content-addressed local copy of remote dens' blobs.

Config keys: those of :class:`CacheSettings` (``path``, ``expiration_time``,
``max_size``, ``eviction_policy``) plus ``grace_seconds`` (entries used this recently are
not evicted for size, so a model being fetched is never pulled from under
itself; default 60).

Layout under ``path``: ``blobs/sha256/<aa>/<sha>`` (read-only files, written
temp file -> hash check -> fsync -> rename, so only verified bytes ever appear),
``meta/<namespace>/...`` (manifests and name snapshots of each remote den, for
offline use; see ``CachedBackend``), ``locks/`` (one file lock per blob: a blob
is downloaded once however many processes want it), ``tmp/`` and ``index.sqlite``
(size, first/last use, use count and pin of every blob).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sqlite3
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from filelock import FileLock, Timeout

from medcat_den.cache.settings import CacheSettings
from medcat_den.errors import ConfigError, IntegrityError
from medcat_den.pack.integrity import sha256_file
from medcat_den.pack.names import SHA256_RE
from medcat_den.storage import fsutil
from medcat_den.storage.backend import StoreBackend

logger = logging.getLogger(__name__)

_TMP_MAX_AGE = 3600.0
_FLUSH_SECONDS = 5.0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    sha TEXT PRIMARY KEY, size INTEGER NOT NULL, added REAL NOT NULL,
    last_access REAL NOT NULL, hits INTEGER NOT NULL DEFAULT 0, pinned INTEGER NOT NULL DEFAULT 0
)
"""


@dataclass(frozen=True)
class CacheEntry:
    """One cached blob."""

    sha: str
    size: int
    added: float
    last_access: float
    hits: int
    pinned: bool


class BlobCache:
    """Verified blobs of remote dens on local disk, with pinning and eviction."""

    def __init__(
        self,
        settings: CacheSettings | None = None,
        *,
        grace_seconds: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings or CacheSettings.from_env()
        self.root = self.settings.path
        self.grace_seconds = grace_seconds
        self._clock = clock
        self.downloads = 0  # blobs this object fetched from a backend (for stats and tests)
        self._pending: dict[str, tuple[int, float]] = {}  # sha -> (uses, last use)
        self._last_flush = time.monotonic()
        atexit.register(_flush_quietly, weakref.ref(self))
        try:
            for sub in ("blobs", "meta", "locks", "tmp"):
                os.makedirs(os.path.join(self.root, sub), exist_ok=True)
            with contextlib.closing(sqlite3.connect(os.path.join(self.root, "index.sqlite"),
                                                    timeout=60.0)) as db:
                db.execute("PRAGMA journal_mode=WAL")
            with self._db() as db:
                db.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as e:
            raise ConfigError(f"cannot use cache folder {self.root}: {e}") from e
        self.tmp_dir = os.path.join(self.root, "tmp")

    def __repr__(self) -> str:
        return f"BlobCache({self.root}, {self.settings.eviction_policy})"

    # --- plumbing -----------------------------------------------------------------
    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(os.path.join(self.root, "index.sqlite"), timeout=60.0,
                             isolation_level=None)
        # use counts and times only order eviction; the blobs themselves are fsynced, so
        # the index need not be: losing its last writes to a power cut costs nothing
        db.execute("PRAGMA synchronous=OFF")
        try:
            db.execute("BEGIN IMMEDIATE")
            yield db
            db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    def blob_path(self, sha: str) -> str:
        if not SHA256_RE.match(sha):
            raise IntegrityError(f"not a sha256: {sha!r}")
        return os.path.join(self.root, "blobs", "sha256", sha[:2], sha)

    def _lock(self, sha: str) -> FileLock:
        return FileLock(os.path.join(self.root, "locks", sha + ".lock"))

    def _touch(self, sha: str, size: int) -> None:
        now = self._clock()
        with self._db() as db:
            db.execute(
                "INSERT INTO entries (sha, size, added, last_access, hits) VALUES (?, ?, ?, ?, 1)"
                " ON CONFLICT(sha) DO UPDATE SET last_access = excluded.last_access,"
                " hits = hits + 1, size = excluded.size",
                (sha, size, now, now),
            )

    # --- the den's hook -------------------------------------------------------------
    def cached_path(self, sha: str) -> str | None:
        """Path of a cached blob (recording the use), or None.

        A hit costs a ``stat`` and a ``utime``: the file's mtime is its last use (so
        other processes see it at once), and use counts are written to the index in
        batches (every few seconds, before any eviction, and at exit).
        """
        path = self.blob_path(sha)
        now = self._clock()
        try:
            os.utime(path, (now, now))
        except FileNotFoundError:
            return None
        except PermissionError:  # a shared cache: another user's file
            pass
        self._pending[sha] = (self._pending.get(sha, (0, now))[0] + 1, now)
        if time.monotonic() - self._last_flush > _FLUSH_SECONDS:
            self.flush()
        return path

    def flush(self) -> None:
        """Write buffered use counts and times to the index."""
        pending, self._pending = self._pending, {}
        self._last_flush = time.monotonic()
        if not pending:
            return
        with self._db() as db:
            db.executemany("UPDATE entries SET hits = hits + ?, last_access = max(last_access, ?)"
                           " WHERE sha = ?", [(n, t, sha) for sha, (n, t) in pending.items()])

    def ensure_blob(self, backend: StoreBackend, key: str, sha256: str, size: int) -> str:
        """A local path whose bytes hash to ``sha256``, downloading it once if needed.

        Concurrent callers (threads or processes) wait on one file lock per blob:
        the first downloads, verifies and publishes; the others find it cached.
        """
        hit = self.cached_path(sha256)
        if hit is not None:
            return hit
        with self._lock(sha256):
            hit = self.cached_path(sha256)
            if hit is not None:
                return hit
            self._download(backend, key, sha256, size)
            self._touch(sha256, os.path.getsize(self.blob_path(sha256)))
            os.utime(self.blob_path(sha256), (self._clock(), self._clock()))
        self.enforce_limits(protect={sha256})
        return self.blob_path(sha256)

    def _download(self, backend: StoreBackend, key: str, sha: str, size: int) -> None:
        tmp = fsutil.temp_name(self.tmp_dir)
        try:
            logger.info("cache: downloading blob %s… (%d bytes) from %s", sha[:16], size,
                        backend.describe())
            backend.get_file(key, tmp)
            self.downloads += 1
            actual = sha256_file(tmp)
            if actual != sha:
                raise IntegrityError(
                    f"blob {sha[:16]}… from {backend.describe()} hashes to {actual[:16]}…; "
                    "it was not cached")
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.chmod(tmp, 0o444)
            fsutil.replace_atomically(tmp, self.blob_path(sha))
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)

    def add_file(self, sha: str, src_path: str) -> bool:
        """Cache a local file known to hash to ``sha`` (re-checked); True if added."""
        if os.path.exists(self.blob_path(sha)):
            return False
        with self._lock(sha):
            if os.path.exists(self.blob_path(sha)):
                return False
            tmp = fsutil.write_temp(self.tmp_dir, fsutil.copy_into(src_path), 0o444)
            try:
                if sha256_file(tmp) != sha:
                    raise IntegrityError(f"{src_path} does not hash to {sha[:16]}…")
                fsutil.replace_atomically(tmp, self.blob_path(sha))
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            self._touch(sha, os.path.getsize(self.blob_path(sha)))
            os.utime(self.blob_path(sha), (self._clock(), self._clock()))
        self.enforce_limits(protect={sha})
        return True

    # --- inspection and pins ------------------------------------------------------------
    def entries(self) -> list[CacheEntry]:
        """Every cached blob; last use is the later of the index and the file's mtime."""
        self.flush()
        self._adopt_orphans()
        with self._db() as db:
            rows = db.execute("SELECT sha, size, added, last_access, hits, pinned FROM entries"
                              ).fetchall()
        out = []
        for sha, size, added, last, hits, pinned in rows:
            with contextlib.suppress(OSError):
                last = max(last, os.stat(self.blob_path(sha)).st_mtime)
            out.append(CacheEntry(sha, size, added, last, hits, bool(pinned)))
        out.sort(key=lambda e: e.last_access, reverse=True)
        return out

    def total_size(self) -> int:
        """Bytes of everything under the cache folder (blobs, metadata, index, temp files)."""
        total = 0
        seen: set[tuple[int, int]] = set()
        for dirpath, _dirs, files in os.walk(self.root):
            for fn in files:
                with contextlib.suppress(OSError):
                    st = os.lstat(os.path.join(dirpath, fn))
                    if (st.st_dev, st.st_ino) not in seen:  # hard links count once
                        seen.add((st.st_dev, st.st_ino))
                        total += st.st_size
        return total

    def pin(self, shas: Iterable[str]) -> int:
        """Pin cached blobs (never evicted or expired); return how many were pinned."""
        return self._set_pin(shas, True)

    def unpin(self, shas: Iterable[str]) -> int:
        return self._set_pin(shas, False)

    def _set_pin(self, shas: Iterable[str], value: bool) -> int:
        todo = [s for s in shas if SHA256_RE.match(s)]
        self._adopt_orphans()
        with self._db() as db:
            n = 0
            for sha in todo:
                n += db.execute("UPDATE entries SET pinned = ? WHERE sha = ?",
                                (int(value), sha)).rowcount
        return n

    # --- eviction ---------------------------------------------------------------------------
    def _adopt_orphans(self) -> None:
        """Index blobs that exist without a row (a process died between rename and insert)."""
        base = os.path.join(self.root, "blobs", "sha256")
        found: dict[str, int] = {}
        for dirpath, _dirs, files in os.walk(base):
            for fn in files:
                if SHA256_RE.match(fn):
                    with contextlib.suppress(OSError):
                        found[fn] = os.stat(os.path.join(dirpath, fn)).st_size
        now = self._clock()
        with self._db() as db:
            known = {r[0] for r in db.execute("SELECT sha FROM entries")}
            for sha in known - set(found):
                db.execute("DELETE FROM entries WHERE sha = ?", (sha,))
            for sha in set(found) - known:
                db.execute("INSERT OR IGNORE INTO entries (sha, size, added, last_access, hits)"
                           " VALUES (?, ?, ?, ?, 0)", (sha, found[sha], now, now))

    def _victim_order(self, entries: list[CacheEntry]) -> list[CacheEntry]:
        policy = self.settings.eviction_policy
        if policy == "LFU":
            return sorted(entries, key=lambda e: (e.hits, e.last_access, e.sha))
        if policy == "FIFO":
            return sorted(entries, key=lambda e: (e.added, e.sha))
        return sorted(entries, key=lambda e: (e.last_access, e.sha))

    def _remove(self, entry: CacheEntry) -> bool:
        """Delete one blob unless someone holds its lock (downloading or pinning it)."""
        lock = self._lock(entry.sha)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return False
        try:
            with contextlib.suppress(FileNotFoundError):
                os.chmod(self.blob_path(entry.sha), 0o644)
                os.unlink(self.blob_path(entry.sha))
            with self._db() as db:
                db.execute("DELETE FROM entries WHERE sha = ? AND pinned = 0", (entry.sha,))
        finally:
            lock.release()
        return True

    def prune(self, grace_seconds: float = 0.0) -> int:
        """Remove expired entries, then evict by policy until under ``max_size``; bytes freed.

        Unlike the automatic enforcement after each download, an explicit prune
        evicts recently used blobs too (unless ``grace_seconds`` is given).
        """
        return self.enforce_limits(protect=set(), expire=True, grace_seconds=grace_seconds)

    def enforce_limits(self, protect: set[str], expire: bool = True,
                       grace_seconds: float | None = None) -> int:
        grace = self.grace_seconds if grace_seconds is None else grace_seconds
        now = self._clock()
        freed = 0
        self._clean_tmp(now)
        entries = [e for e in self.entries() if not e.pinned and e.sha not in protect]
        if expire:
            for e in entries:
                if now - e.last_access > self.settings.expiration_time and self._remove(e):
                    logger.info("cache: expired blob %s…", e.sha[:16])
                    freed += e.size
        total = self.total_size()
        if total <= self.settings.max_size:
            return freed
        alive = [e for e in self.entries() if not e.pinned and e.sha not in protect
                 and now - e.last_access >= grace]
        for e in self._victim_order(alive):
            if total <= self.settings.max_size:
                break
            if self._remove(e):
                logger.info("cache: evicted blob %s… (%s)", e.sha[:16],
                            self.settings.eviction_policy)
                total -= e.size
                freed += e.size
        if total > self.settings.max_size:
            logger.warning("cache %s holds %d bytes, over its max of %d: the rest is pinned or "
                           "in use", self.root, total, self.settings.max_size)
        return freed

    def _clean_tmp(self, now: float) -> None:
        for fn in os.listdir(self.tmp_dir):
            path = os.path.join(self.tmp_dir, fn)
            with contextlib.suppress(OSError):
                if time.time() - os.lstat(path).st_mtime > _TMP_MAX_AGE:
                    os.unlink(path)

    def clear(self, include_pinned: bool = False) -> int:
        """Remove every (unpinned) blob; return bytes freed."""
        freed = 0
        for e in self.entries():
            if (include_pinned or not e.pinned) and self._remove_any(e):
                freed += e.size
        return freed

    def _remove_any(self, entry: CacheEntry) -> bool:
        if entry.pinned:
            with self._db() as db:
                db.execute("UPDATE entries SET pinned = 0 WHERE sha = ?", (entry.sha,))
        return self._remove(entry)


def _flush_quietly(ref: weakref.ref[BlobCache]) -> None:
    cache = ref()
    if cache is not None:
        with contextlib.suppress(Exception):
            cache.flush()
