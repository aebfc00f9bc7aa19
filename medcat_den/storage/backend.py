"""The narrow, byte-level interface every den store implements (fsspec-style).

A backend knows nothing about MedCAT, manifests or names: it stores immutable
objects under keys (``put_*_if_absent``), lists and deletes them, and keeps
small mutable *refs* that move only by compare-and-swap.

Keys are ``/``-separated relative strings made only of ``[A-Za-z0-9._-]``
segments (see :func:`validate_key`); the den builds them, never users.
"""

from __future__ import annotations

import os
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass

from medcat_den.errors import InvalidNameError

_KEY_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,199}$")


def validate_key(key: str) -> str:
    """Return ``key`` if every segment is safe, else raise InvalidNameError."""
    segments = key.split("/")
    if not key or any(not _KEY_SEGMENT.match(s) or s in (".", "..") for s in segments):
        raise InvalidNameError(f"invalid store key: {key!r}")
    return key


@dataclass(frozen=True)
class ObjectInfo:
    """One stored object as the store itself reports it (S3: ``Size`` / ``LastModified``)."""

    key: str
    size: int | None
    #: seconds since the epoch; None when the store cannot say (gc then keeps the object)
    modified: float | None


class StoreBackend(ABC):
    """Byte-level storage of immutable objects and compare-and-swap refs.

    Implementations: ``LocalFolderBackend`` (``LOCAL_USER`` / ``LOCAL_MACHINE``),
    ``S3Backend``, and custom classes named by import path.
    """

    #: True when objects live on this machine's filesystem (``local_path`` works).
    is_local: bool = False
    #: scratch folder on this machine for temp files and fetched pack folders (on the
    #: same filesystem as ``local_path`` results, so they can be hard-linked); None: the
    #: system temp folder. ``gc`` removes what killed processes left in it.
    tmp_dir: str | None = None

    # --- immutable objects -------------------------------------------------
    @abstractmethod
    def get_file(self, key: str, dest_path: str) -> None:
        """Write the object's bytes to ``dest_path`` (raise KeyNotFoundError)."""

    @abstractmethod
    def get_bytes(self, key: str) -> bytes:
        """Return the object's bytes (raise KeyNotFoundError)."""

    @abstractmethod
    def put_file_if_absent(self, key: str, src_path: str) -> bool:
        """Store a file's bytes under ``key`` unless it exists; True if written."""

    @abstractmethod
    def put_bytes_if_absent(self, key: str, data: bytes) -> bool:
        """Store ``data`` under ``key`` unless it exists; True if written."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether an object (not a ref) exists under ``key``."""

    @abstractmethod
    def list_keys(self, prefix: str) -> Iterator[str]:
        """Yield the object keys that start with ``prefix`` (any order)."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Delete an object; deleting a missing key is not an error."""

    # --- small mutable refs ------------------------------------------------
    @abstractmethod
    def read_ref(self, key: str) -> tuple[bytes, str] | None:
        """Return ``(data, token)`` of a ref, or None if it does not exist.

        ``token`` is opaque (an ETag, a hash) and is passed back to ``write_ref``.
        """

    @abstractmethod
    def write_ref(self, key: str, data: bytes | None, expected_token: str | None) -> bool:
        """Compare-and-swap a ref.

        Writes ``data`` (or deletes the ref when ``data`` is None) only if the
        ref's current token equals ``expected_token`` (None: the ref must not
        exist). Returns False, changing nothing, when another writer won.
        """

    @abstractmethod
    def list_refs(self, prefix: str) -> Iterator[str]:
        """Yield the ref keys that start with ``prefix``."""

    # --- optional ----------------------------------------------------------
    def list_entries(self, prefix: str, start_after: str | None = None) -> Iterator[ObjectInfo]:
        """Objects under ``prefix`` in key order (after ``start_after``), with size and age.

        The default sorts ``list_keys`` and stats ``local_path``; remote backends
        override it with what their listing returns.
        """
        for key in sorted(self.list_keys(prefix)):
            if start_after is not None and key <= start_after:
                continue
            path = self.local_path(key) if self.is_local else None
            try:
                st = os.stat(path) if path else None
            except OSError:
                st = None
            yield ObjectInfo(key, st.st_size if st else None, st.st_mtime if st else None)

    def local_path(self, key: str) -> str | None:
        """Path of the object on this machine's filesystem, if it has one."""
        return None

    def refresh(self, key: str) -> None:
        """Drop any local copy of ``key`` so that the next read asks the store (caches)."""
        return None

    def check_guarantees(self) -> list[str]:
        """Problems with the write guarantees the den relies on (conditional create, CAS).

        Empty when the backend honours them. Remote backends probe their server.
        """
        return []

    def describe(self) -> str:
        """A short, credential-free description for logs and errors."""
        return type(self).__name__
