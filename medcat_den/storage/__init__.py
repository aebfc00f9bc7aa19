"""Byte storage: the narrow ``StoreBackend`` interface and the backends that implement it.

A backend knows nothing of MedCAT packs, manifests or names (that is :mod:`medcat_den.pack`).
"""

from medcat_den.storage.backend import ObjectInfo, StoreBackend, validate_key
from medcat_den.storage.local import LocalFolderBackend

__all__ = ["LocalFolderBackend", "ObjectInfo", "StoreBackend", "validate_key"]
