"""Byte-level storage: backends, manifests, integrity and archive safety."""

from medcat_den.store.backend import StoreBackend, validate_key
from medcat_den.store.local import LocalFolderBackend
from medcat_den.store.manifest import FileEntry, PackManifest

__all__ = ["FileEntry", "LocalFolderBackend", "PackManifest", "StoreBackend", "validate_key"]
