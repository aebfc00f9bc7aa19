"""The narrow, byte-level interface every den store implements (fsspec-style).

A backend knows nothing about MedCAT, manifests or names: it stores immutable
objects under keys (``put_*_if_absent``), lists and deletes them, and keeps
small mutable *refs* that move only by compare-and-swap.

Keys are ``/``-separated relative strings made only of ``[A-Za-z0-9._-]``
segments (see :func:`validate_key`); the den builds them, never users.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterator

from medcat_den.errors import InvalidNameError

_KEY_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,199}$")


def validate_key(key: str) -> str:
    """Return ``key`` if every segment is safe, else raise InvalidNameError."""
    segments = key.split("/")
    if not key or any(not _KEY_SEGMENT.match(s) or s in (".", "..") for s in segments):
        raise InvalidNameError(f"invalid store key: {key!r}")
    return key


class StoreBackend(ABC):
    """Byte-level storage of immutable objects and compare-and-swap refs.

    Implementations: ``LocalFolderBackend`` (``LOCAL_USER`` / ``LOCAL_MACHINE``),
    ``S3Backend``, and custom classes named by import path.
    """

    #: True when objects live on this machine's filesystem (``local_path`` works).
    is_local: bool = False

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
    def local_path(self, key: str) -> str | None:
        """Path of the object on this machine's filesystem, if it has one."""
        return None

    def describe(self) -> str:
        """A short, credential-free description for logs and errors."""
        return type(self).__name__
