"""``LocalFolderBackend``: a den in a folder on this machine.

Config keys:
    root (str): the den folder (created if missing).
    shared (bool): machine-wide den: group-writable folders (setgid) and files,
        so every member of the folder's group can push. Default False.

Layout: ``objects/<key>`` (immutable, published with ``os.link`` so the first
complete writer wins), ``refs/<key>`` (replaced atomically under a file lock),
``tmp/`` (temp files; leftovers from killed writers are removed by ``gc``),
``locks/``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator

from filelock import FileLock

from medcat_den.errors import BackendError, KeyNotFoundError
from medcat_den.storage import fsutil
from medcat_den.storage.backend import StoreBackend, validate_key
from medcat_den.storage.fault_injection import counts_write


class LocalFolderBackend(StoreBackend):
    """Objects and refs under one local folder (``LOCAL_USER`` / ``LOCAL_MACHINE``)."""

    is_local = True

    # Objects under these prefixes are content-addressed and shared by hard link (the den's blobs):
    # they are stored read-only so that an edit through a link cannot corrupt every copy.
    read_only_prefixes: tuple[str, ...] = ("blobs/",)

    def __init__(self, root: str, shared: bool = False) -> None:
        self.root = os.path.abspath(os.path.expanduser(str(root)))
        self.shared = shared
        self._file_mode = 0o664 if shared else 0o644
        self._blob_mode = 0o444
        dir_mode = 0o2775 if shared else 0o755
        try:
            old = os.umask(0o002 if shared else 0o022)
            try:
                for sub in ("objects", "refs", "tmp", "locks"):
                    path = os.path.join(self.root, sub)
                    os.makedirs(path, mode=dir_mode, exist_ok=True)
                    if shared:
                        os.chmod(path, dir_mode)
            finally:
                os.umask(old)
        except OSError as e:
            raise BackendError(f"cannot create den folder {self.root}: {e.strerror}") from e
        self.scratch = os.path.join(self.root, "tmp")
        self.tmp_dir: str | None = self.scratch

    # --- paths ---------------------------------------------------------------
    def _obj(self, key: str) -> str:
        return os.path.join(self.root, "objects", *validate_key(key).split("/"))

    def _ref(self, key: str) -> str:
        return os.path.join(self.root, "refs", *validate_key(key).split("/"))

    def _lock(self, key: str) -> FileLock:
        name = hashlib.sha256(key.encode()).hexdigest()[:32]
        return FileLock(os.path.join(self.root, "locks", name + ".lock"), mode=self._file_mode)

    # --- objects -------------------------------------------------------------
    def get_file(self, key: str, dest_path: str) -> None:
        src = self._obj(key)
        if not os.path.isfile(src):
            raise KeyNotFoundError(f"{key} not found in {self.describe()}")
        tmp = fsutil.write_temp(os.path.dirname(os.path.abspath(dest_path)) or ".",
                                fsutil.copy_into(src))
        fsutil.replace_atomically(tmp, dest_path)

    def get_bytes(self, key: str) -> bytes:
        try:
            with open(self._obj(key), "rb") as f:
                return f.read()
        except FileNotFoundError:
            raise KeyNotFoundError(f"{key} not found in {self.describe()}") from None

    def _mode_for(self, key: str) -> int:
        return self._blob_mode if key.startswith(self.read_only_prefixes) else self._file_mode

    @counts_write
    def put_file_if_absent(self, key: str, src_path: str) -> bool:
        final = self._obj(key)
        if os.path.exists(final):
            return False
        tmp = fsutil.write_temp(self.scratch, fsutil.copy_into(src_path), self._mode_for(key))
        return fsutil.publish_if_absent(tmp, final)

    @counts_write
    def put_bytes_if_absent(self, key: str, data: bytes) -> bool:
        final = self._obj(key)
        if os.path.exists(final):
            return False
        tmp = fsutil.write_temp(self.scratch, lambda f: f.write(data), self._mode_for(key))
        return fsutil.publish_if_absent(tmp, final)

    def exists(self, key: str) -> bool:
        return os.path.isfile(self._obj(key))

    def _walk(self, base: str, prefix: str) -> Iterator[str]:
        # walk only the deepest folder the prefix names, not the whole den
        head, _, _ = prefix.rpartition("/")
        start = os.path.join(base, *head.split("/")) if head else base
        for dirpath, _dirs, files in os.walk(start):
            rel_dir = os.path.relpath(dirpath, base).replace(os.sep, "/")
            for fn in files:
                key = fn if rel_dir == "." else f"{rel_dir}/{fn}"
                if key.startswith(prefix) and not fn.startswith(".tmp-"):
                    yield key

    def list_keys(self, prefix: str) -> Iterator[str]:
        return self._walk(os.path.join(self.root, "objects"), prefix)

    @counts_write
    def delete(self, key: str) -> None:
        try:
            os.unlink(self._obj(key))
        except FileNotFoundError:
            pass

    # --- refs ------------------------------------------------------------------
    def read_ref(self, key: str) -> tuple[bytes, str] | None:
        try:
            with open(self._ref(key), "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return None
        return data, hashlib.sha256(data).hexdigest()

    @counts_write
    def write_ref(self, key: str, data: bytes | None, expected_token: str | None) -> bool:
        path = self._ref(key)
        # the lock is advisory and released by the OS if the holder dies
        with self._lock(key):
            current = self.read_ref(key)
            token = current[1] if current else None
            if token != expected_token:
                return False
            if data is None:
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
                fsutil.fsync_dir(os.path.dirname(path))
                return True
            payload = data
            tmp = fsutil.write_temp(self.scratch, lambda f: f.write(payload), self._file_mode)
            fsutil.replace_atomically(tmp, path)
            return True

    def list_refs(self, prefix: str) -> Iterator[str]:
        return self._walk(os.path.join(self.root, "refs"), prefix)

    # --- extras ------------------------------------------------------------------
    def local_path(self, key: str) -> str | None:
        path = self._obj(key)
        return path if os.path.isfile(path) else None

    def describe(self) -> str:
        return f"LocalFolderBackend({self.root})"

    def __repr__(self) -> str:
        return self.describe()
